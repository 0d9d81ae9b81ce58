"""The revival program on leads: enrollment of lost leads, the runner of the steps, revival.

A lead lost with a revivable loss reason enters the first matching program (by sequence) when
its loss is confirmed by the loss review, or at once if its team does not review losses;
marketers and heads of sales enroll or stop by hand. Never enrolled: disqualified leads,
blacklisted (opted-out) e-mails, leads without e-mail when the first step is an e-mail.

The runner (``_cron_revival_runner``) sends the due steps in locked batches (the watchers'
idiom), each step once per enrollment. A reply on the lead (mail gateway) or *Revive* puts it
back to work through *Return to Work*, in the program's re-entry stage, with its previous owner.
This file is the only writer of ``crm.revival.enrollment`` and ``crm.revival.delivery``.
"""

import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .caller_values import sudo_clean
from .mail_thread import GATEWAY_TRUSTED
from .watcher_batches import run_locked_batches

_logger = logging.getLogger(__name__)

REVIVAL_BATCH = 200
# who enrolls, stops and revives by hand
REVIVAL_GROUPS = (
    "crm_regulation.group_marketer,crm_regulation.group_head_of_sales,sales_team.group_sale_manager"
)


class CrmLeadRevival(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    revival_enrollment_ids = fields.One2many(
        "crm.revival.enrollment", "lead_id", string="Revival Enrollments"
    )
    revival_state = fields.Selection(
        [("running", "In Revival"), ("revived", "Revived")],
        compute="_compute_revival_state",
        search="_search_revival_state",
        string="Revival",
    )

    @api.depends("revival_enrollment_ids.state")
    def _compute_revival_state(self):
        # sudo: the enrollments' states, shown on the leads the user reads
        for lead in self.sudo():
            states = set(lead.revival_enrollment_ids.mapped("state"))
            lead.with_env(self.env).revival_state = (
                "running" if "running" in states else "revived" if "revived" in states else False
            )

    def _search_revival_state(self, operator, value):
        if operator != "in":
            return NotImplemented
        # sudo: which leads are in a state of revival (ids only)
        Enrollment = self.env["crm.revival.enrollment"].sudo()
        return [("id", "in", Enrollment._search([("state", "in", list(value))]).select("lead_id"))]

    # ------------------------------------------------------------
    # Enrollment
    # ------------------------------------------------------------

    def _revival_candidates(self):
        """The leads that may enter a program: lost (not disqualified) with a revivable loss
        reason, not blacklisted, not already in one."""
        return self.with_context(active_test=False).filtered(
            lambda lead: lead.outcome == "lost"
            and lead.lost_reason_id.revivable
            and lead.lost_reason_id.category == "loss"
            and not lead.is_blacklisted
            and lead.revival_state != "running"
        )

    def _revival_program_for(self, programs):
        """The first program of ``programs`` (by sequence) that takes this lead, or None."""
        self.ensure_one()
        # sudo: the segment is checked at save (literals, paths every salesperson reads)
        # and only tested against this lead
        Lead = self.sudo().with_context(active_test=False)
        for program in programs:
            if program.team_ids and self.team_id not in program.team_ids:
                continue
            if program.lost_reason_ids and self.lost_reason_id not in program.lost_reason_ids:
                continue
            first = program.step_ids[:1]
            # (whether the lead has an e-mail: a marketer enrolls without reading it)
            if not first or (first.action == "email" and not Lead.browse(self.id).email_from):
                continue
            if Lead.search_count([("id", "=", self.id), *program._segment_domain()], limit=1):
                return program
        return None

    def _revival_enroll(self, programs=None):
        """Enroll these leads in their first matching program: the enrollments created."""
        Enrollment = self.env["crm.revival.enrollment"]
        candidates = self._revival_candidates()
        if not candidates:
            return Enrollment
        # sudo: the active programs, whoever closed the lead
        programs = programs or self.env["crm.revival.program"].sudo().search(
            [("step_ids", "!=", False)]
        )
        calendars = self.env["crm.team"]._regulation_calendars(
            list({lead.team_id.id for lead in candidates})
        )
        values = []
        now = fields.Datetime.now()
        for lead in candidates:
            program = lead._revival_program_for(programs)
            if not program:
                continue
            first = program.step_ids[:1]
            start = max(
                now, fields.Datetime.add(lead.date_closed or now, days=program.min_days_lost)
            )
            calendar = calendars[lead.team_id.id or 0]
            values.append(
                {
                    "lead_id": lead.id,
                    "program_id": program.id,
                    "step_id": first.id,
                    "next_run": first._next_run(calendar, start),
                    "owner_id": lead.user_id.id,
                    "date_enrolled": now,
                }
            )
        # sudo: the enrollments are the system's (created for the leads checked above)
        return sudo_clean(Enrollment).create(values)

    def _revival_check_manager(self):
        if not self.env["res.users"]._crm_regulation_holds(REVIVAL_GROUPS):
            raise AccessError(
                self.env._("Only marketers and heads of sales run the revival program by hand.")
            )
        self.with_context(active_test=False).check_access("read")

    def action_revival_enroll(self):
        """Enroll the selected lost leads by hand (marketers, heads of sales)."""
        self._revival_check_manager()
        enrollments = self._revival_enroll()
        if not enrollments:
            raise UserError(
                self.env._(
                    "No revival program takes these leads (lost with a revivable reason, an "
                    "e-mail that is not opted out, in a program's teams and segment)."
                )
            )
        return True

    def action_revival_stop(self):
        """Stop the leads' running enrollments by hand."""
        self._revival_check_manager()
        # sudo: the enrollments are the system's; the user's access to the leads checked
        running = self.sudo().revival_enrollment_ids.filtered(lambda e: e.state == "running")
        running.write(
            {
                "state": "stopped",
                "stop_reason": self.env._("Stopped by %s", self.env.user.name),
                "next_run": False,
            }
        )
        return True

    def action_revive(self):
        """*Revive*: the leads in revival back to work with their previous owner."""
        self._revival_check_manager()
        leads = self.with_context(active_test=False).filtered(
            lambda lead: lead.revival_state == "running"
        )
        if not leads:
            raise UserError(self.env._("These leads are not in a revival program."))
        leads._revival_revive()
        return True

    # ------------------------------------------------------------
    # Revival
    # ------------------------------------------------------------

    def _revival_revive(self, replied=False):
        """Back to work: the program's re-entry stage, the previous owner (the team leader
        when that user is archived or left the team), an activity for them; the
        enrollment revived. Through *Return to Work* (a new stay, the SLA from now)."""
        # sudo: the system revives (a reply, or a marketer who may not edit leads); the
        # leads and their enrollments only
        for lead in self.sudo().with_context(active_test=False):
            enrollment = lead.revival_enrollment_ids.filtered(lambda e: e.state == "running")[:1]
            if not enrollment:
                continue
            program = enrollment.program_id
            lead.action_return_to_work(self.env._("Revival: %s", program.name))
            owner = enrollment.owner_id
            team = lead.team_id
            if not owner.active or (team and owner not in team.member_ids | team.user_id):
                owner = team.user_id
            lead.write({"stage_id": program.reentry_stage_id.id, "user_id": owner.id})
            if owner:
                lead.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=owner.id,
                    summary=self.env._("Revived by %s: contact the customer", program.name),
                )
            enrollment.write(
                {
                    "state": "revived",
                    "next_run": False,
                    "date_revived": fields.Datetime.now(),
                    "replied": replied,
                }
            )

    def _revival_from_new_leads(self):
        """New leads (web form, import, API, mail gateway) of a customer in revival: the
        lead in revival comes back to work, and the new one is closed as its duplicate
        instead of starting a second deal. The leads in revival are searched as the
        creator (a web form and the mail gateway create as the system; a salesperson
        matches the leads they may read, nothing else is revived or named), in the new
        lead's company."""
        if self.env.context.get(GATEWAY_TRUSTED) is False:
            return  # an e-mail fed to the gateway by a user: it creates as the system
        news = self.filtered(lambda lead: lead.email_normalized or lead.phone_sanitized)
        if not news:
            return
        emails = [email for email in news.mapped("email_normalized") if email]
        phones = [phone for phone in news.mapped("phone_sanitized") if phone]
        # every creation comes here: one indexed probe (ids only, nothing returned to the
        # caller) spares the search with the creator's rules when no lead of these
        # addresses is in revival, as for nearly every new lead
        self.env["crm.revival.enrollment"].flush_model(["lead_id", "state"])
        self.flush_model(["email_normalized", "phone_sanitized"])
        if not self.env.execute_query(
            SQL(
                """SELECT 1 FROM crm_lead l
                    WHERE (l.email_normalized = ANY(%s) OR l.phone_sanitized = ANY(%s))
                      AND l.id <> ALL(%s)
                      AND EXISTS (SELECT 1 FROM crm_revival_enrollment e
                                   WHERE e.lead_id = l.id AND e.state = 'running')
                    LIMIT 1""",
                emails,
                phones,
                news.ids,
            )
        ):
            return
        in_revival = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search(
                [
                    ("revival_state", "in", ["running"]),
                    ("id", "not in", news.ids),
                    ("company_id", "in", [*news.company_id.ids, False]),
                    "|",
                    ("email_normalized", "in", emails),
                    ("phone_sanitized", "in", phones),
                ]
            )
        )
        duplicate = self.env.ref("crm_regulation.lost_reason_duplicate", raise_if_not_found=False)
        for new in news:
            match = in_revival.filtered(
                lambda lead, new=new: (lead.company_id == new.company_id or not lead.company_id)
                and (
                    (new.email_normalized and lead.email_normalized == new.email_normalized)
                    or (new.phone_sanitized and lead.phone_sanitized == new.phone_sanitized)
                )
            )[:1]
            if not match or match.revival_state != "running":
                continue
            match._revival_revive()
            # sudo: the system closes the new lead as the duplicate of the lead its creator
            # matched (they may read it; closing may need rights a web form has not)
            new = new.sudo()
            new.write({"duplicate_of_id": match.id})
            if duplicate:
                new.action_set_lost(lost_reason_id=duplicate.id)
            new._message_log(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "The customer of %s, in a revival program, came back: that lead is back "
                    "to work and this one is closed as its duplicate.",
                    match.display_name,
                )
            )

    def message_update(self, msg_dict, update_vals=None):
        """A reply of the customer on a lead in revival brings it back to work: through the
        mail gateway only, fed by the system (mail_thread.GATEWAY_TRUSTED; both methods are
        public: a user calling either gets Odoo's update and no revival)."""
        result = super().message_update(msg_dict, update_vals=update_vals)
        if not (self.env.su and self.env.context.get(GATEWAY_TRUSTED)):
            return result
        in_revival = self.with_context(active_test=False).filtered(
            lambda lead: lead.revival_state == "running"
        )
        if in_revival:
            in_revival._revival_revive(replied=True)
        return result

    @api.model
    def _revival_hand_over(self, leaver, target=None):
        """A leaver's running enrollments (crm_lead_handover.py), on the leads the caller may
        write: to ``target`` where they are in the lead's team, else its team leader (who
        gets the lead when the customer comes back)."""
        # sudo: the enrollments are the system's; only those of leads the caller may write
        enrollments = (
            self.env["crm.revival.enrollment"]
            .sudo()
            .search([("owner_id", "=", leaver.id), ("state", "=", "running")])
        )
        writable = enrollments.lead_id.with_env(self.env)._filtered_access("write")

        def new_owner(enrollment):
            team = enrollment.lead_id.team_id
            if target and team and target in team.member_ids | team.user_id:
                return target
            return team.user_id if team.user_id and team.user_id != leaver else self.env.user

        mine = enrollments.filtered(lambda e: e.lead_id in writable)
        for owner, batch in mine.grouped(new_owner).items():
            batch.write({"owner_id": owner.id})

    @api.model
    def _revival_backfill_deliveries(self):
        """Upgrade from 19.0.1.9.0: a row per step already run (the k-th step of its program
        by today's order, dated when the enrollment was last written: the dates of the runs
        were not kept), and the template's chooser of the e-mail steps (their last writer).
        Idempotent: enrollments that have rows are left alone."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            INSERT INTO crm_revival_delivery (enrollment_id, step_id, position, date,
                                              create_uid, create_date, write_uid, write_date)
            SELECT e.id, s.id, s.rank, COALESCE(e.write_date, e.date_enrolled),
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM crm_revival_enrollment e
              JOIN (SELECT id, program_id,
                           row_number() OVER (PARTITION BY program_id ORDER BY sequence, id)
                               AS rank
                      FROM crm_revival_step) s
                ON s.program_id = e.program_id AND s.rank <= e.steps_done
             WHERE NOT EXISTS (SELECT 1 FROM crm_revival_delivery d WHERE d.enrollment_id = e.id)
            ON CONFLICT DO NOTHING
            """,
            {"uid": self.env.uid},
        )
        self.env.cr.execute(
            """
            UPDATE crm_revival_step SET template_user_id = write_uid
             WHERE mail_template_id IS NOT NULL AND template_user_id IS NULL
            """
        )
        self.env.invalidate_all()

    # ------------------------------------------------------------
    # The runner
    # ------------------------------------------------------------

    @api.model
    def _cron_revival_runner(self, batch_size=REVIVAL_BATCH):
        """Run the due steps of the running enrollments: one indexed query finds them;
        locked batches, re-checked after the lock and committed with their step."""
        now = fields.Datetime.now()
        Enrollment = self.env["crm.revival.enrollment"]
        due = Enrollment._search(
            [("state", "=", "running"), ("next_run", "<=", now)], order="next_run, id"
        )
        return run_locked_batches(
            Enrollment, list(due), batch_size, lambda batch: self._revival_run_steps(batch, now)
        )

    @api.model
    def _revival_run_steps(self, enrollments, now):
        # the working hours of the batch's teams, once
        calendars = self.env["crm.team"]._regulation_calendars(
            list({enrollment.lead_id.team_id.id for enrollment in enrollments})
        )
        for enrollment in enrollments:
            if (
                enrollment.state != "running"
                or not enrollment.next_run
                or enrollment.next_run > now
            ):
                continue  # done by another worker meanwhile
            self._revival_run_step(enrollment, now, calendars)

    @api.model
    def _revival_run_step(self, enrollment, now, calendars):
        lead = enrollment.lead_id.with_context(active_test=False)
        step = enrollment.step_id
        stop = None
        if lead.outcome != "lost":
            stop = self.env._("Back in work")
        elif lead.is_blacklisted:
            stop = self.env._("Opted out")
        elif step.action == "email" and not lead.email_from:
            stop = self.env._("No e-mail")
        if stop:
            enrollment.write({"state": "stopped", "stop_reason": stop, "next_run": False})
            return
        try:
            with self.env.cr.savepoint():
                if step.action == "email":
                    template = step.mail_template_id
                    step._check_template()
                    # what the template reads, as the user who chose it for the step (the
                    # system posts it): a field they may not read stops the enrollment
                    chooser = template.with_user(step.template_user_id or self.env.user)
                    for fname in ("subject", "body_html", "email_from", "reply_to"):
                        chooser._render_field(fname, lead.ids)
                    lead.message_post_with_source(
                        template, message_type="comment", subtype_xmlid="mail.mt_comment"
                    )
                else:
                    user = (
                        step.activity_user_id
                        if step.activity_user == "marketer"
                        else enrollment.owner_id
                    )
                    if not user.active or not lead.with_user(user).has_access("read"):
                        user = lead.team_id.user_id  # who may read the lead
                    lead.activity_schedule(
                        activity_type_id=step.activity_type_id.id,
                        user_id=user.id or self.env.uid,
                        summary=step.summary or step.program_id.name,
                    )
        except Exception as error:  # a template that fails stops this enrollment only
            _logger.warning("Revival step %s of lead %s failed: %s", step.id, lead.id, error)
            enrollment.write(
                {
                    "state": "stopped",
                    "stop_reason": self.env._("Step failed: %s", str(error)[:500]),
                    "next_run": False,
                }
            )
            lead._message_log(
                body=Markup("<p>%s</p>")
                % self.env._("Revival stopped: the step %s failed.", step.display_name)
            )
            return
        following = step.program_id.step_ids.filtered(
            lambda other: (other.sequence, other.id) > (step.sequence, step.id)
        )[:1]
        # the step's run: its figures, and once per enrollment (a unique index)
        self.env["crm.revival.delivery"].create(
            {
                "enrollment_id": enrollment.id,
                "step_id": step.id,
                "position": enrollment.steps_done + 1,
                "date": now,
            }
        )
        values = {"steps_done": enrollment.steps_done + 1}
        if following:
            calendar = calendars[lead.team_id.id or 0]
            values.update(step_id=following.id, next_run=following._next_run(calendar, now))
        else:
            values.update(state="finished", step_id=False, next_run=False)
        enrollment.write(values)
