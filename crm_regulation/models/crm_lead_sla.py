"""Stage SLAs: the time a lead may spend in a stage, counted in the team's business hours
from its entry; the lead's deadline and warning are set in the move's own UPDATE, the
watcher warns the salesperson and escalates a breach as the stage's SLA says."""

from collections import defaultdict
from typing import NamedTuple

from markupsafe import Markup

from odoo import api, fields, models
from odoo.fields import Command
from odoo.tools import SQL, format_datetime

from .business_clock import business_moment, clock_for
from .caller_values import sudo_clean
from .crm_lead import WATCHER_BATCH
from .regulation import (
    DEFAULT_SLA,
    NEW_LEAD,
    NO_SLA,
    OFF,
    SlaPlan,
    SlaStart,
    SlaStay,
    Span,
)

# Leads written per statement when an SLA change reschedules a stage.
RESCHEDULE_CHUNK = 20000
LEAD_SLA_FIELDS = ("sla_deadline", "sla_warning_at", "sla_state")


class SlaPreset(NamedTuple):
    """The SLA of a stage move computed before the write, to go in its UPDATE."""

    values: dict  # the lead's SLA fields
    plan: SlaPlan


# one capability a file (crm_lead.py says which)
class CrmLeadSla(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    # stage SLA
    sla_deadline = fields.Datetime(
        string="Stage Deadline",
        readonly=True,
        copy=False,
        help="When the lead must leave its stage: the stage's SLA counted in the team's "
        "business hours from the moment the lead entered it (from the next working "
        "moment when that was outside working hours).",
    )
    sla_warning_at = fields.Datetime(
        string="At Risk From",
        readonly=True,
        copy=False,
        help="When the lead becomes at risk of missing its stage deadline.",
    )
    sla_state = fields.Selection(
        [("on_track", "On Track"), ("at_risk", "At Risk"), ("breached", "SLA Breached")],
        string="Stage SLA",
        readonly=True,
        copy=False,
        help="Where the lead stands against its stage's SLA, kept by the SLA watcher. Empty: "
        "no SLA (none on the stage, or the lead is won, lost or archived).",
    )

    # closed leads only: a stage move of an open lead adds no entry to it
    _outcome_closed_idx = models.Index("(outcome) WHERE outcome <> 'open'")
    # the figures of the leads closed in a period (crm_team_kpi.py)
    _date_closed_idx = models.Index("(date_closed) WHERE date_closed IS NOT NULL")
    # the SLA watcher's query: leads still to warn, leads still to escalate
    _sla_warning_due_idx = models.Index("(sla_warning_at) WHERE sla_state = 'on_track'")
    # (a lead on track past its deadline is past its warning too: the first index finds it)
    _sla_deadline_due_idx = models.Index("(sla_deadline) WHERE sla_state = 'at_risk'")

    # ------------------------------------------------------------
    # Planning (business hours from the start of the stay)
    # ------------------------------------------------------------

    @api.model
    def _sla_state_at(self, now, deadline, warning_at, old_state):
        """The state of an SLA at ``now``. A lead that is already past its warning or its
        deadline keeps the state it was notified in: the watcher notifies the rest."""
        if warning_at > now:
            return "on_track"
        if deadline > now:
            return "at_risk" if old_state in ("at_risk", "breached") else "on_track"
        return old_state if old_state in ("at_risk", "breached") else "on_track"

    @api.model
    def _sla_plan(self, stays, regulation, now):
        """{lead id: SlaPlan} of ``stays`` (SlaStay), counted in business hours from their
        start (NO_SLA for a stay without SLA). One clock per calendar serves every stay of
        it; stays that start together (a stage move) are computed once."""
        calendars = self.env["crm.team"]._regulation_calendars({stay.team_id for stay in stays})
        by_calendar = defaultdict(list)
        result = {}
        for stay in stays:
            spec = regulation.sla(stay.team_id, stay.stage_id)
            if spec is None or regulation.mode(stay.team_id, stay.company_id) == OFF:
                result[stay.lead_id] = NO_SLA
            else:
                by_calendar[calendars[stay.team_id or 0]].append((stay, spec))
        for calendar, items in by_calendar.items():
            clock = (
                clock_for(calendar, [stay.start for stay, _spec in items], items[0][1].hours)
                if calendar
                else None
            )
            planned = {}
            for stay, spec in items:
                key = (stay.start, spec.hours, spec.warning_ratio)
                if key not in planned:
                    planned[key] = (
                        business_moment(clock, stay.start, spec.hours),
                        business_moment(clock, stay.start, spec.hours * spec.warning_ratio),
                    )
                deadline, warning_at = planned[key]
                result[stay.lead_id] = SlaPlan(
                    deadline=deadline,
                    warning_at=warning_at,
                    state=self._sla_state_at(now, deadline, warning_at, stay.old_state),
                    hours=spec.hours,
                )
        return result

    @api.model
    def _sla_values(self, plan):
        """The lead's SLA fields for ``plan``."""
        return {
            "sla_deadline": plan.deadline or False,
            "sla_warning_at": plan.warning_at or False,
            "sla_state": plan.state or False,
        }

    # ------------------------------------------------------------
    # The write path
    # ------------------------------------------------------------

    def _sla_preset(self, vals, before, regulation):
        """SlaPreset of a write that moves all of ``self`` to one stage, computed before the
        write so that it goes in its UPDATE; None unless the write moves every lead, open,
        of one team, from another stage, without changing team or archiving."""
        stage_id = vals.get("stage_id")
        if not stage_id or "active" in vals or "team_id" in vals or not self._ids:
            return None
        stage = regulation.stages.get(stage_id)
        if not stage or stage.is_won:
            return None
        if any(
            not before[lead_id].active or before[lead_id].stage_id == stage_id
            for lead_id in self._ids
        ):
            return None
        teams = self._regulation_field_caches(("team_id",))["team_id"]
        team_ids = {teams[lead_id] for lead_id in self._ids}
        if len(team_ids) != 1 or not next(iter(team_ids)):
            return None  # (a lead without a team: its company's mode, in ``_sla_sync``)
        now = self.env.cr.now().replace(microsecond=0)
        stay = SlaStay(
            lead_id=0, team_id=team_ids.pop(), stage_id=stage_id, start=now, old_state=None
        )
        plan = self._sla_plan([stay], regulation, now)[0]
        return SlaPreset(values=self._sla_values(plan), plan=plan)

    def _sla_sync(self, before, states, regulation, updates, preset=None, from_lead=False):
        """Start the SLA of the stays that begin with this create/write (a stage entered,
        a lead back to work or unarchived) and stop it for the leads that are won, lost
        or archived (values added to ``updates``). ``before``/``states`` as for the
        transitions; ``preset``: the SLA of the new stays when the write computed it.
        Returns {lead id: SlaStart} of the new stays with an SLA, for the stage history."""
        if preset:
            # a move of all of ``self`` computed before the write and written with it
            start = SlaStart(deadline=preset.plan.deadline, hours=preset.plan.hours)
            return dict.fromkeys(self._ids, start) if preset.plan.deadline else {}
        stages = regulation.stages
        now = self.env.cr.now().replace(microsecond=0)
        # sudo: SLA fields of the moved leads (system fields)
        caches = self.sudo()._regulation_field_caches(
            LEAD_SLA_FIELDS + (("date_last_stage_update",) if from_lead else ())
        )
        starting, stopping = [], []
        for state in states:
            stage = stages.get(state.stage_id)
            running = bool(state.active and stage and not stage.is_won)
            old = before.get(state.id, NEW_LEAD)
            if running and (not old.active or old.stage_id != state.stage_id):
                start = (from_lead and caches["date_last_stage_update"][state.id]) or now
                starting.append(
                    SlaStay(
                        lead_id=state.id,
                        team_id=state.team_id,
                        stage_id=state.stage_id,
                        start=start.replace(microsecond=0),
                        old_state=None,
                        company_id=state.company_id,
                    )
                )
            elif not running and caches["sla_state"][state.id]:
                stopping.append(state.id)
        planned = self._sla_plan(starting, regulation, now) if starting else {}
        for lead_id, plan in planned.items():
            current = tuple(caches[fname][lead_id] for fname in LEAD_SLA_FIELDS)
            if current != plan[:3]:
                updates[lead_id].update(self._sla_values(plan))
        for lead_id in stopping:
            updates[lead_id].update(self._sla_values(NO_SLA))
        return {
            lead_id: SlaStart(deadline=plan.deadline, hours=plan.hours)
            for lead_id, plan in planned.items()
            if plan.deadline
        }

    def _sla_follow_team(self):
        """The leads of ``self`` changed team: its SLA and working hours, from the start of
        the same stay."""
        if self.env["crm.regulation.rule"]._get_regulation().slas:
            self._sla_reschedule(lead_ids=self.ids)

    @api.model
    def _sla_reschedule(self, scope=None, lead_ids=None):
        """Recompute the SLA of the open leads of ``scope`` ([(team id or None: every
        team, stage id or None: every stage)]) or of ``lead_ids``, from the start of their
        current stay, set-based: one query reads them, one clock per calendar computes,
        one statement per chunk writes the leads, one their open stays. A lead that the
        new values put past its warning or deadline is left to the watcher, which
        notifies it once; a lead already notified keeps its state while it still holds."""
        if not scope and lead_ids is None:
            return 0
        conditions = []
        for team_id, stage_id in scope or ():
            condition = [SQL("TRUE")]
            if team_id:
                condition.append(SQL("l.team_id = %s", team_id))
            if stage_id:
                condition.append(SQL("l.stage_id = %s", stage_id))
            conditions.append(SQL("(%s)", SQL(" AND ").join(condition)))
        where = SQL(" OR ").join(conditions) if conditions else SQL("TRUE")
        if lead_ids is not None:
            where = SQL("(%s) AND l.id = ANY(%s)", where, list(lead_ids))
        self.flush_model()
        History = self.env["crm.lead.stage.history"]
        History.flush_model()
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        rows = self.env.execute_query(
            SQL(
                """SELECT l.id, l.team_id, l.stage_id,
                          COALESCE(h.date_in, l.date_last_stage_update, l.create_date),
                          l.sla_state, l.sla_deadline, l.sla_warning_at, l.company_id
                     FROM crm_lead l
                     JOIN crm_stage s ON s.id = l.stage_id AND s.is_won IS NOT TRUE
                LEFT JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
                    WHERE l.active AND (%s)""",
                where,
            )
        )
        now = self.env.cr.now().replace(microsecond=0)
        planned = self._sla_plan(
            [
                SlaStay(
                    lead_id=lead_id,
                    team_id=team_id,
                    stage_id=stage_id,
                    start=start.replace(microsecond=0),
                    old_state=old_state,
                    company_id=company_id,
                )
                for lead_id, team_id, stage_id, start, old_state, _dl, _wa, company_id in rows
            ],
            regulation,
            now,
        )
        changes = [
            (lead_id, planned[lead_id])
            for lead_id, _team, _stage, _start, old_state, old_deadline, old_warning, _c in rows
            if planned[lead_id][:3] != (old_deadline, old_warning, old_state)
        ]
        for index in range(0, len(changes), RESCHEDULE_CHUNK):
            chunk = changes[index : index + RESCHEDULE_CHUNK]
            ids = [lead_id for lead_id, _plan in chunk]
            plans = [plan for _lead_id, plan in chunk]
            self.env.cr.execute(
                SQL(
                    """UPDATE crm_lead l
                          SET sla_deadline = v.deadline, sla_warning_at = v.warning_at,
                              sla_state = v.state
                         FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[],
                                     %s::varchar[]) AS v(id, deadline, warning_at, state)
                        WHERE l.id = v.id""",
                    ids,
                    [plan.deadline for plan in plans],
                    [plan.warning_at for plan in plans],
                    [plan.state for plan in plans],
                )
            )
            History._sla_reschedule_open(ids, plans)
        if changes:
            self.invalidate_model(list(LEAD_SLA_FIELDS))
        return len(changes)

    # ------------------------------------------------------------
    # The watcher
    # ------------------------------------------------------------

    def _sla_due_sql(self, now):
        """The SLA watcher's query: leads to warn (at risk) or to escalate (breached), on
        the two partial indexes of what is still to notify. The warning comes before the
        deadline: a lead on track whose deadline passed is found by its warning."""
        return SQL(
            """SELECT id FROM crm_lead
                WHERE (sla_state = 'on_track' AND sla_warning_at <= %(now)s)
                   OR (sla_state = 'at_risk' AND sla_deadline <= %(now)s)
                ORDER BY id""",
            now=now,
        )

    @api.model
    def _cron_sla_watcher(self, batch_size=WATCHER_BATCH):
        """Warn the salesperson of leads at risk of missing their stage deadline, and
        notify and act (activity, email or reassignment, per the stage's SLA) on those
        that missed it, recording the breach on the stay. One indexed query finds what
        is due; batches are locked, re-checked and committed with their state, so that
        nothing is notified twice."""
        now = fields.Datetime.now()
        due = [lead_id for (lead_id,) in self.env.execute_query(self._sla_due_sql(now))]
        return self._regulation_run_batches(due, batch_size, lambda leads: leads._sla_notify(now))

    def _sla_notify(self, now):
        """Warn (at risk) or escalate (breached) the leads of ``self`` still due at
        ``now`` (read again after the lock)."""
        leads = self.filtered(
            lambda lead: lead.active
            and lead.sla_deadline
            and (
                (lead.sla_state == "on_track" and lead.sla_warning_at <= now)
                or (lead.sla_state in ("on_track", "at_risk") and lead.sla_deadline <= now)
            )
        )
        breached = leads.filtered(lambda lead: lead.sla_deadline <= now)
        at_risk = leads - breached
        if at_risk:
            activity_type = self.env.ref("crm_regulation.mail_activity_type_sla")
            self._sla_schedule_activities(
                [(lead, lead.user_id or lead.team_id.user_id) for lead in at_risk],
                activity_type,
                lambda env, lead: env._(
                    "Move on before %s (stage deadline)", format_datetime(env, lead.sla_deadline)
                ),
            )
            at_risk.write({"sla_state": "at_risk"})
        if breached:
            breached._sla_escalate(now)

    def _sla_schedule_activities(self, assignments, activity_type, summary):
        """One activity per (lead, user) of ``assignments``, summary in the user's
        language, all created at once."""
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for lead, user in assignments:
            if not user:
                continue
            user_env = lead.with_user(user).with_context(lang=user.lang).env
            values_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": lead.id,
                    "activity_type_id": activity_type.id,
                    "summary": summary(user_env, lead),
                    "user_id": user.id,
                    "date_deadline": fields.Date.context_today(
                        lead.with_env(user_env), lead.sla_deadline
                    ),
                    "automated": True,
                }
            )
        if values_list:
            # sudo: the SLA watcher's escalation tasks (cron); values built here
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)

    def _sla_escalate(self, now):
        """The leads of ``self`` missed their stage deadline: notify whom their SLA says,
        do what it says, log it on the lead and record the breach on the stay."""
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        activity_type = self.env.ref("crm_regulation.mail_activity_type_sla")
        template = self.env.ref("crm_regulation.mail_template_sla_breach")
        overdue = self._sla_overdue_hours(now)
        activities, emails, logs = [], defaultdict(list), {}
        reassign = defaultdict(list)
        for lead in self:
            spec = regulation.sla(lead.team_id.id, lead.stage_id.id) or DEFAULT_SLA
            owner, leader = lead.user_id, lead.team_id.user_id
            recipients = {
                "owner": owner or leader,
                "leader": leader or owner,
                "both": owner | leader,
            }[spec.notify]
            if spec.action == "activity":
                activities += [(lead, user) for user in recipients]
            elif spec.action == "email":
                emails[tuple(recipients.partner_id.ids)].append(lead.id)
            elif leader and leader != owner:
                reassign[leader].append(lead.id)
            lang = (owner or leader).lang or self.env.lang
            env = lead.with_context(lang=lang).env
            action = {
                "activity": env._("an activity was scheduled"),
                "email": env._("an email was sent"),
                "reassign": env._("the lead was reassigned to the team leader")
                if leader and leader != owner
                else env._("the lead stays with the team leader"),
            }[spec.action]
            logs[lead.id] = Markup("<p>%s</p>") % env._(
                "Stage deadline passed: the lead has been in “%(stage)s” longer than its SLA "
                "of %(hours)s business hours (deadline %(deadline)s). Notified: "
                "%(recipients)s; %(action)s.",
                stage=lead.stage_id.with_env(env).name,
                hours=f"{spec.hours:g}" if spec.hours else "-",
                deadline=format_datetime(env, lead.sla_deadline),
                recipients=", ".join(recipients.mapped("name")) or env._("nobody"),
                action=action,
            )
        if activities:
            self._sla_schedule_activities(
                activities,
                activity_type,
                lambda env, lead: env._(
                    "Stage deadline passed on %s", format_datetime(env, lead.sla_deadline)
                ),
            )
        for partner_ids, lead_ids in emails.items():
            if partner_ids:
                template.send_mail_batch(
                    lead_ids, email_values={"recipient_ids": [Command.set(list(partner_ids))]}
                )
        for leader, lead_ids in reassign.items():
            self.browse(lead_ids).write({"user_id": leader.id})
        self._message_log_batch(logs)
        self.write({"sla_state": "breached"})
        self.env["crm.lead.stage.history"]._sla_record_breaches(overdue)

    def _sla_overdue_hours(self, now):
        """{lead id: business hours from its stage deadline to ``now``}."""
        spent = self.env["crm.lead.stage.history"]._business_hours(
            [
                Span(
                    key=lead.id,
                    team_id=lead.team_id.id,
                    date_in=lead.sla_deadline,
                    date_out=now,
                    deadline=None,
                )
                for lead in self
            ]
        )
        return {lead_id: max(span.hours, 0.0) for lead_id, span in spent.items()}
