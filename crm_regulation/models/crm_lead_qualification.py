"""The qualification deadline: a new lead of a team with one must reach the team's
qualification stage (or be closed) within the team's business hours; the watcher reminds
the salesperson before the deadline and tells the team leader when it has passed."""

from typing import NamedTuple

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import format_datetime

from .business_clock import business_moment, clock_for
from .caller_values import sudo_clean
from .crm_lead import WATCHER_BATCH
from .regulation import OFF


class QualificationSetting(NamedTuple):
    """A team's qualification deadline."""

    stage_id: int  # reached at this stage (or a later one)
    hours: float  # business hours from the lead's creation
    warning_hours: float  # the salesperson is reminded this long before
    calendar: object  # resource.calendar: the team's working hours


# one capability a file (crm_lead.py says which)
class CrmLeadQualification(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    # qualification deadline
    qualification_deadline = fields.Datetime(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="When the lead must be qualified (reach the team's qualification stage) or "
        "disqualified, counted in the team's business hours from its creation.",
    )
    qualification_state = fields.Selection(
        [
            ("pending", "To Qualify"),
            ("warned", "Deadline Near"),
            ("overdue", "Qualification Overdue"),
            ("done", "Qualified or Closed"),
        ],
        readonly=True,
        copy=False,
    )
    qualification_date = fields.Datetime(
        string="Qualified On",
        readonly=True,
        copy=False,
        help="When the lead reached the qualification stage or was closed.",
    )
    qualification_check_at = fields.Datetime(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Technical: when the qualification watcher must next look at the lead.",
    )

    def _qualification_settings(self, team_ids):
        """{team id: QualificationSetting} of the teams that have a qualification deadline."""
        # sudo: team settings of the leads' teams, whoever moves them
        teams = self.env["crm.team"].sudo().browse([t for t in team_ids if t])
        return {
            team.id: QualificationSetting(
                stage_id=team.qualification_stage_id.id,
                hours=team.qualification_hours,
                warning_hours=team.qualification_warning_hours,
                calendar=team._regulation_calendar(),
            )
            for team in teams
            if team.qualification_stage_id
            and team.qualification_hours > 0
            and team.regulation_mode != OFF
        }

    def _qualification_settled(self, states, regulation, settings=None):
        """Ids of the leads of ``states`` (LeadState) that are qualified (at or after their
        team's qualification stage, in the stage order), closed or archived."""
        if settings is None:
            settings = self._qualification_settings({state.team_id for state in states})
        stages = regulation.stages
        rank = None
        settled = []
        for state in states:
            stage = stages.get(state.stage_id)
            setting = settings.get(state.team_id)
            if not state.active or not stage or stage.is_won or not setting:
                settled.append(state.id)
                continue
            if rank is None:  # the kanban order, read once when a lead needs it
                rank = self._regulation_pipelines(regulation).rank()
            if rank[state.stage_id] >= rank.get(setting.stage_id, -1):
                settled.append(state.id)
        return settled

    def _qualification_start(self, states, regulation, updates):
        """Give new leads of teams with a qualification deadline their deadline, in the
        team's business hours from now (one business clock per team and batch; values
        added to ``updates``)."""
        settings = self._qualification_settings({state.team_id for state in states})
        if not settings:
            return
        settled = set(self._qualification_settled(states, regulation, settings))
        now = self.env.cr.now().replace(microsecond=0)
        by_team = {}
        for state in states:
            if state.team_id in settings and state.id not in settled:
                by_team.setdefault(state.team_id, []).append(state.id)
        for team_id, lead_ids in by_team.items():
            setting = settings[team_id]
            hours, warning_hours = setting.hours, setting.warning_hours
            clock = clock_for(setting.calendar, [now], hours) if setting.calendar else None
            deadline = business_moment(clock, now, hours)
            warning_at = now
            if 0 < warning_hours < hours:
                warning_at = business_moment(clock, now, hours - warning_hours)
            values = {
                "qualification_deadline": deadline,
                "qualification_state": "pending",
                "qualification_check_at": warning_at if warning_hours else deadline,
            }
            for lead_id in lead_ids:
                updates[lead_id].update(values)

    def _qualification_settle(self, states, regulation, updates):
        """The leads of ``states`` waiting to be qualified that now are (or are closed):
        their deadline is met (values added to ``updates``)."""
        current = self._regulation_field_caches(("qualification_state",))["qualification_state"]
        waiting = [
            state for state in states if current[state.id] in ("pending", "warned", "overdue")
        ]
        if not waiting:
            return
        now = self.env.cr.now()
        for lead_id in self._qualification_settled(waiting, regulation):
            updates[lead_id].update(
                qualification_state="done", qualification_check_at=False, qualification_date=now
            )

    @api.model
    def _cron_qualification_watcher(self, batch_size=WATCHER_BATCH):
        """Notify the salesperson when a lead's qualification deadline is near (an
        activity) and the team leader when it has passed (a notification on the lead).
        One indexed query finds what is due; batches are locked (several workers skip
        each other's leads), re-checked after the lock, and committed with their state,
        so that nothing is notified twice."""
        now = fields.Datetime.now()
        due = self.with_context(active_test=False)._search(
            [("qualification_check_at", "<=", now)], order="qualification_check_at, id"
        )
        return self._regulation_run_batches(
            list(due), batch_size, lambda leads: leads._qualification_notify(now)
        )

    def _qualification_notify(self, now):
        # a team switched off since: its leads have no deadline any more
        off = self.filtered(lambda lead: lead.team_id.regulation_mode == OFF)
        off.write({"qualification_state": False, "qualification_check_at": False})
        leads = (self - off).filtered(
            lambda lead: lead.qualification_check_at
            and lead.qualification_check_at <= now
            and lead.qualification_state in ("pending", "warned")
        )
        overdue = leads.filtered(lambda lead: lead.qualification_deadline <= now)
        near = leads - overdue
        # the salesperson's task (also when the cron saw the lead only after its deadline)
        to_warn = near | overdue.filtered(lambda lead: lead.qualification_state == "pending")
        activity_type = self.env.ref("crm_regulation.mail_activity_type_qualify")
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for lead in to_warn:
            user = lead.user_id or lead.team_id.user_id
            if not user:
                continue
            user_lead = lead.with_user(user).with_context(lang=user.lang)
            values_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": lead.id,
                    "activity_type_id": activity_type.id,
                    "summary": user_lead.env._(
                        "Qualify before %s",
                        format_datetime(user_lead.env, lead.qualification_deadline),
                    ),
                    "user_id": user.id,
                    "date_deadline": fields.Date.context_today(
                        user_lead, lead.qualification_deadline
                    ),
                    "automated": True,
                }
            )
        if values_list:
            # sudo: the qualification watcher's tasks (cron); values built here
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)
        near.write({"qualification_state": "warned"})
        for lead in near:  # next look: at the deadline (one UPDATE at flush)
            lead.qualification_check_at = lead.qualification_deadline
        for lead in overdue:
            leader = lead.team_id.user_id
            if leader:
                lead.with_context(lang=leader.lang).message_post(
                    body=Markup("<p>%s</p>")
                    % lead.with_context(lang=leader.lang).env._(
                        "The qualification deadline of this lead (%(deadline)s) has passed; "
                        "salesperson: %(user)s.",
                        deadline=format_datetime(
                            lead.with_user(leader).env, lead.qualification_deadline
                        ),
                        user=lead.user_id.name or lead.env._("nobody"),
                    ),
                    partner_ids=leader.partner_id.ids,
                    subtype_xmlid="mail.mt_note",
                )
        overdue.write({"qualification_state": "overdue", "qualification_check_at": False})
