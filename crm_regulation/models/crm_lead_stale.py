"""Stale leads leave the funnel: an open lead untouched (no stage move, activity or
message) for the team's number of days is flagged and its salesperson told; still
untouched after the grace period, it is lost where the team asks for it."""

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .crm_lead import WATCHER_BATCH


# one capability a file (crm_lead.py says which)
class CrmLeadStale(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    # stale leads
    stale_date = fields.Datetime(
        string="Stale Since",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Flagged when the lead had no stage move, activity or message for the team's "
        "number of days; cleared when it is touched again.",
    )

    @api.model
    def _stale_touched_sql(self, since):
        """SQL condition: lead ``l`` was touched at or after ``since`` (an SQL timestamp):
        a stage move, an activity planned then or due from then on, a message or an
        email (not a notification, unless it is a done activity)."""
        return SQL(
            """(
            l.date_last_stage_update >= %(since)s
            OR EXISTS (
                SELECT 1 FROM mail_activity a
                 WHERE a.res_model = 'crm.lead' AND a.res_id = l.id
                   AND (a.create_date >= %(since)s OR a.date_deadline >= (%(since)s)::date)
            )
            OR EXISTS (
                SELECT 1 FROM mail_message m
                 WHERE m.model = 'crm.lead' AND m.res_id = l.id AND m.date >= %(since)s
                   AND (m.message_type IN ('comment', 'email')
                        OR m.mail_activity_type_id IS NOT NULL)
            ))""",
            since=since,
        )

    @api.model
    def _stale_due_sql(self, now):
        """The three sets of the stale-lead watcher, each one indexed query: flagged leads
        touched again or closed (to unflag), leads untouched for their team's number of
        days (to flag), flagged leads past the grace period of a team that loses them
        (to lose)."""
        open_lead = SQL("l.active AND l.won_status = 'pending'")
        return {
            "unflag": SQL(
                """SELECT l.id FROM crm_lead l
                WHERE l.stale_date IS NOT NULL
                  AND (NOT (%(open)s) OR %(touched)s)
                ORDER BY l.id""",
                open=open_lead,
                touched=self._stale_touched_sql(SQL("l.stale_date")),
            ),
            "flag": SQL(
                """SELECT l.id FROM crm_lead l JOIN crm_team t ON t.id = l.team_id
                WHERE t.stale_days > 0 AND t.regulation_mode <> 'off'
                  AND %(open)s AND l.stale_date IS NULL
                  AND l.date_last_stage_update < %(now)s - make_interval(days => t.stale_days)
                  -- the same bound with the smallest setting: an index range on
                  -- date_last_stage_update (the team's own bound alone cannot use one)
                  AND l.date_last_stage_update < %(now)s - make_interval(days => (
                      SELECT min(stale_days) FROM crm_team WHERE stale_days > 0))
                  AND NOT %(touched)s
                ORDER BY l.id""",
                open=open_lead,
                now=now,
                touched=self._stale_touched_sql(
                    SQL("(%s - make_interval(days => t.stale_days))", now)
                ),
            ),
            "lose": SQL(
                """SELECT l.id FROM crm_lead l JOIN crm_team t ON t.id = l.team_id
                WHERE l.stale_date IS NOT NULL AND %(open)s
                  AND t.stale_auto_lose AND t.stale_lost_reason_id IS NOT NULL
                  -- an automatic loss enforces: not in audit mode
                  AND t.regulation_mode = 'enforce'
                  AND l.stale_date <= %(now)s - make_interval(days => t.stale_grace_days)
                  AND l.stale_date <= %(now)s - make_interval(days => (
                      SELECT min(stale_grace_days) FROM crm_team WHERE stale_auto_lose))
                  AND NOT %(touched)s
                ORDER BY l.id""",
                open=open_lead,
                now=now,
                touched=self._stale_touched_sql(SQL("l.stale_date")),
            ),
        }

    @api.model
    def _cron_stale_leads(self, batch_size=WATCHER_BATCH):
        """Stale leads leave the funnel: unflag the leads touched again, flag (and tell the
        salesperson) the leads untouched for the team's number of days, then lose those
        still untouched after the grace period where the team asks for it. Batched,
        locked and committed like the qualification watcher; each step's query returns
        only what is still to do, so that a rerun does nothing twice."""
        now = fields.Datetime.now()
        queries = self._stale_due_sql(now)
        done = 0
        for step, process in (
            ("unflag", lambda leads: leads._stale_unflag(now)),
            ("flag", lambda leads: leads._stale_flag(now)),
            ("lose", lambda leads: leads._stale_lose(now)),
        ):
            lead_ids = self._stale_execute(queries[step])
            done += self._regulation_run_batches(lead_ids, batch_size, process)
        return done

    @api.model
    def _stale_execute(self, query):
        """Ids returned by a watcher query. PostgreSQL's JIT is off for it: the planner's
        cost of the per-lead EXISTS checks can pass the JIT threshold, and compiling then
        costs a second where the query itself takes milliseconds."""
        self.env.cr.execute("SET LOCAL jit = off")
        return [lead_id for (lead_id,) in self.env.execute_query(query)]

    def _stale_recheck(self, step, now):
        """The leads of ``self`` still due for ``step`` (read again after the lock)."""
        query = self._stale_due_sql(now)[step]
        return self.browse(
            self._stale_execute(
                SQL("SELECT id FROM (%s) AS due WHERE id = ANY(%s)", query, list(self.ids))
            )
        )

    def _stale_unflag(self, now):
        self._stale_recheck("unflag", now).write({"stale_date": False})

    def _stale_flag(self, now):
        leads = self._stale_recheck("flag", now)
        leads.write({"stale_date": now})
        for lead in leads:
            team = lead.team_id
            user = lead.user_id or team.user_id
            env = lead.with_context(lang=user.lang or self.env.lang).env
            text = env._(
                "This lead is stale: no stage move, activity or message for %s days. Plan "
                "an activity, write to the customer or move it.",
                team.stale_days,
            )
            if team.stale_auto_lose:
                text += " " + env._(
                    "Otherwise it will be lost automatically (“%(reason)s”) in %(days)s days.",
                    reason=team.stale_lost_reason_id.with_env(env).name,
                    days=team.stale_grace_days,
                )
            lead.message_post(
                body=Markup("<p>%s</p>") % text,
                partner_ids=user.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )

    def _stale_lose(self, now):
        """Lose stale leads with their team's reason, one ``action_set_lost`` per team and
        salesperson's language, each loss logged on its lead. If the regulation refuses
        a batch, its leads are lost one by one: a lead refused stays open, flagged again,
        the refusal logged."""
        leads = self._stale_recheck("lose", now)
        for (team, lang), group in leads.grouped(
            lambda lead: (lead.team_id, lead.user_id.lang or self.env.lang)
        ).items():
            env = group.with_context(lang=lang).env
            reason = team.stale_lost_reason_id.with_env(env)
            note = env._(
                "Lost automatically after %(days)s days without a stage move, activity or "
                "message (reason: %(reason)s). Use “Return to Work” to reopen it.",
                days=team.stale_days + team.stale_grace_days,
                reason=reason.name,
            )
            values = {"lost_reason_id": reason.id, "lost_feedback": Markup("<p>%s</p>") % note}
            try:
                with self.env.cr.savepoint():
                    group.with_env(env).action_set_lost(**values)
                lost = group
            except UserError:
                lost = self.browse()
                for lead in group:
                    try:
                        with self.env.cr.savepoint():
                            lead.with_env(env).action_set_lost(**values)
                        lost |= lead
                    except UserError as error:
                        lead.write({"stale_date": now})
                        lead.message_post(
                            body=Markup("<p>%s</p><pre>%s</pre>")
                            % (env._("This stale lead could not be lost automatically:"), error),
                            partner_ids=lead.user_id.partner_id.ids,
                            subtype_xmlid="mail.mt_note",
                        )
            for lead in lost:
                lead.message_post(
                    body=Markup("<p>%s</p>") % note,
                    partner_ids=lead.user_id.partner_id.ids,
                    subtype_xmlid="mail.mt_note",
                )

    def _stale_touch(self, updates):
        """The leads of ``self`` moved or came back: no longer stale (values added to
        ``updates``)."""
        stale = self._regulation_field_caches(("stale_date",))["stale_date"]
        for lead_id in self._ids:
            if stale[lead_id]:
                updates[lead_id]["stale_date"] = False
