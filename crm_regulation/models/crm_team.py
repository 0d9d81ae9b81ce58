import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from .business_clock import BusinessClock
from .data_standard import PHONE_STANDARDS
from .regulation import MODES

_logger = logging.getLogger(__name__)

# what a head of sales edits on the teams of their tree (the rest stays with the sales
# administrators): the regulation settings
HEAD_OF_SALES_TEAM_FIELDS = frozenset(
    {
        "regulation_mode",
        "member_pick_unassigned",
        "resource_calendar_id",
        "sla_override_ids",
        "qualification_stage_id",
        "qualification_hours",
        "qualification_warning_hours",
        "stale_days",
        "stale_auto_lose",
        "stale_grace_days",
        "stale_lost_reason_id",
        "duplicate_policy",
        "phone_standard",
        "disqualification_alert_points",
        "disqualification_alert_min_leads",
        "dashboard_kpi_ids",
    }
)
# the rollout view's window: compliance of the last four weeks, and who sees it
COMPLIANCE_DAYS = 28
COMPLIANCE_GROUPS = "crm_regulation.group_head_of_sales,sales_team.group_sale_manager"

REGULATION_MODES = [
    ("off", "Off"),
    ("audit", "Audit"),
    ("enforce", "Enforce"),
]
assert tuple(key for key, _label in REGULATION_MODES) == MODES

# team fields the role matrix reads (RegulationScope): a change clears the cached scopes
SCOPE_TEAM_FIELDS = {
    "active",
    "user_id",
    "parent_id",
    "member_pick_unassigned",
    "member_ids",
    "crm_team_member_ids",
    "crm_team_member_all_ids",
}


class CrmTeam(models.Model):
    _name = "crm.team"
    _inherit = ["crm.team", "crm.regulation.column.defaults.mixin"]
    _parent_store = True

    parent_id = fields.Many2one(
        "crm.team",
        string="Parent Team",
        index=True,
        ondelete="restrict",
        tracking=True,
        help="The head of sales of a team sees the leads of its sub-teams too.",
    )
    parent_path = fields.Char(index=True)
    regulation_mode = fields.Selection(
        REGULATION_MODES,
        required=True,
        tracking=True,
        default=lambda self: self.env.company.crm_regulation_mode or "audit",
        help="Off: nothing of the sales regulation applies to the team's leads. Audit: "
        "everything is checked and recorded in the compliance log, nothing is refused (a "
        "pilot). Enforce: what the regulation does not allow is refused.",
    )
    child_ids = fields.One2many("crm.team", "parent_id", string="Sub-teams")
    loss_review = fields.Boolean(
        string="Review Losses",
        default=True,
        help="The head of sales confirms each loss and disqualification (CRM > Sales > Losses "
        "to Review); a lost lead enters a revival program once its loss is confirmed. Off: "
        "it enters at once.",
    )
    member_pick_unassigned = fields.Boolean(
        string="Members See Unassigned Leads",
        default=True,
        help="Salespeople of the team see the team's unassigned leads and may take them. "
        "Off: they see only the leads assigned to them.",
    )

    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Working Hours",
        default=lambda self: self.env.company.resource_calendar_id,
        help="Business hours of the team: deadlines are counted in these hours (the "
        "company's working hours when empty).",
    )
    sla_override_ids = fields.One2many(
        "crm.stage.sla",
        "team_id",
        string="Stage SLAs of the Team",
        help="SLAs of this team that replace the stages' own (0 hours: no SLA in that stage "
        "for this team).",
    )
    regulation_attempt_count = fields.Integer(
        string="Regulated Moves (4 Weeks)",
        compute="_compute_regulation_compliance",
        groups=COMPLIANCE_GROUPS,
    )
    regulation_breach_count = fields.Integer(
        string="Would Be Refused (4 Weeks)",
        compute="_compute_regulation_compliance",
        groups=COMPLIANCE_GROUPS,
    )
    regulation_compliance = fields.Float(
        string="Compliance (4 Weeks)",
        compute="_compute_regulation_compliance",
        groups=COMPLIANCE_GROUPS,
        help="Share of the stage moves and closings of the last four weeks that met the "
        "regulation (moves refused or that would have been refused count against it).",
    )
    # qualification deadline
    qualification_stage_id = fields.Many2one(
        "crm.stage",
        string="Qualified At Stage",
        help="A new lead is qualified when it reaches this stage (or a later one). Empty: "
        "no qualification deadline.",
    )
    qualification_hours = fields.Float(
        string="Qualify Within (Business Hours)",
        default=24,
        help="New leads must reach the qualification stage, or be disqualified, within "
        "this many working hours of the team.",
    )
    qualification_warning_hours = fields.Float(
        string="Remind Before (Business Hours)",
        default=4,
        help="The salesperson gets a task this many working hours before the deadline; the "
        "team leader is notified when it passes.",
    )
    # stale leads
    stale_days = fields.Integer(
        string="Stale After (Days)",
        default=30,
        help="An open lead with no stage move, no planned or done activity and no message "
        "for this many days is flagged as stale and its salesperson informed. 0: never.",
    )
    stale_auto_lose = fields.Boolean(
        string="Lose Stale Leads Automatically",
        help="Stale leads still untouched after the grace period are lost with the reason "
        "below (logged on the lead, reversible with “Return to Work”).",
    )
    stale_grace_days = fields.Integer(
        string="Grace Period (Days)",
        default=7,
        help="Days between the stale flag and the automatic loss.",
    )
    stale_lost_reason_id = fields.Many2one(
        "crm.lost.reason",
        string="Reason for Automatic Loss",
        default=lambda self: self.env.ref(
            "crm_regulation.lost_reason_no_response", raise_if_not_found=False
        ),
        domain=[("category", "=", "loss")],
    )
    # duplicates
    duplicate_policy = fields.Selection(
        [("none", "Allow"), ("warn", "Warn"), ("block", "Block")],
        string="Duplicate Leads",
        default="none",
        required=True,
        help="What happens when a new lead has the email or phone of an open lead: allowed "
        "silently, allowed with a warning naming the original and its owner, or refused.",
    )
    # the data standard: the company's unless the team chooses otherwise
    phone_standard = fields.Selection(
        [("company", "Company's standard"), *PHONE_STANDARDS],
        default="company",
        required=True,
        help="How the phones of the team's leads are entered (CRM settings: the company's).",
    )
    # anti-gaming
    disqualification_alert_points = fields.Float(
        string="Disqualification Alert (Points)",
        default=20,
        help="A salesperson is flagged in the outcome analysis when their disqualification "
        "rate in a month is more than this many percentage points above the team's.",
    )
    disqualification_alert_min_leads = fields.Integer(
        string="Alert From (Closed Leads)",
        default=10,
        help="Months in which a salesperson closed fewer leads are not flagged (too few to judge).",
    )

    @api.constrains(
        "qualification_stage_id",
        "stale_auto_lose",
        "stale_lost_reason_id",
        "qualification_hours",
        "qualification_warning_hours",
        "stale_days",
        "stale_grace_days",
        "disqualification_alert_points",
        "disqualification_alert_min_leads",
    )
    def _check_regulation_settings(self):
        for team in self:
            if (
                min(
                    team.qualification_hours,
                    team.qualification_warning_hours,
                    team.stale_days,
                    team.stale_grace_days,
                    team.disqualification_alert_points,
                    team.disqualification_alert_min_leads,
                )
                < 0
            ):
                raise ValidationError(
                    self.env._(
                        "Team “%s”: hours, days and thresholds cannot be negative.", team.name
                    )
                )
            if team.qualification_stage_id and team.qualification_hours <= 0:
                raise ValidationError(
                    self.env._(
                        "Team “%s”: give the number of business hours to qualify a lead in.",
                        team.name,
                    )
                )
            if team.stale_auto_lose and not team.stale_lost_reason_id:
                raise ValidationError(
                    self.env._("Team “%s”: choose the reason stale leads are lost with.", team.name)
                )

    @api.constrains("resource_calendar_id")
    def _check_regulation_calendar(self):
        for team in self:
            self._regulation_check_calendar(team.resource_calendar_id)

    @api.model
    def _regulation_check_calendar(self, calendar):
        """Deadlines are counted in working hours: refuse working hours that have none
        (looking four weeks ahead)."""
        if not calendar:
            return
        # sudo: the calendar's working time, whoever edits the team
        if not BusinessClock(calendar.sudo(), fields.Datetime.now()).total:
            raise ValidationError(
                self.env._(
                    "The working hours “%s” have no working time in the next four weeks: "
                    "deadlines and SLAs cannot be counted in them. Add working hours to "
                    "them or choose others.",
                    calendar.name,
                )
            )

    @api.constrains("parent_id")
    def _check_parent_id(self):
        if self._has_cycle():
            raise ValidationError(self.env._("A team cannot be its own parent or sub-team."))

    def _compute_regulation_compliance(self):
        """Moves of the last four weeks (stays started, plus refused attempts) against those
        the regulation refused or would have refused (one per lead and call), per team:
        two grouped queries for every team shown."""
        since = fields.Datetime.subtract(fields.Datetime.now(), days=COMPLIANCE_DAYS)
        team_ids = [team_id for team_id in self.ids if isinstance(team_id, int)]
        moves, breaches, refused = {}, {}, {}
        if team_ids:
            # sudo: counts of the teams' stays (no stay is shown)
            moves = dict(
                self.env["crm.lead.stage.history"]
                .sudo()
                ._read_group(
                    [("team_id", "in", team_ids), ("date_in", ">=", since)],
                    ["team_id"],
                    ["__count"],
                )
            )
            self.env["crm.regulation.violation"].flush_model()
            for team_id, breached, refusals in self.env.execute_query(
                SQL(
                    """SELECT team_id,
                              count(DISTINCT (COALESCE(lead_id, -id), date)),
                              count(DISTINCT (COALESCE(lead_id, -id), date))
                                  FILTER (WHERE outcome = 'refused')
                         FROM crm_regulation_violation
                        WHERE team_id = ANY(%s) AND date >= %s
                          AND outcome IN ('refused', 'would_refuse')
                     GROUP BY team_id""",
                    team_ids,
                    since,
                )
            ):
                breaches[team_id], refused[team_id] = breached, refusals
        for team in self:
            attempts = moves.get(team._origin, 0) + refused.get(team._origin.id, 0)
            breached = breaches.get(team._origin.id, 0)
            team.regulation_attempt_count = attempts
            team.regulation_breach_count = breached
            team.regulation_compliance = (
                100.0 * (attempts - breached) / attempts if attempts else 100.0
            )

    def action_regulation_enforce(self):
        """The rollout's last step: the regulation refuses what it does not allow."""
        self.write({"regulation_mode": "enforce"})
        return True

    def action_view_compliance(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_regulation_violation_action"
        )
        action["domain"] = [("team_id", "=", self.id)]
        action["display_name"] = self.env._("Compliance of %s", self.display_name)
        return action

    @api.model
    def _regulation_announce_audit(self):
        """At install: tell on each existing team what its audit mode means and what to do
        next (the server log says it too)."""
        # sudo: the install's note on every team (fixed text)
        teams = self.sudo().search([("regulation_mode", "=", "audit")])
        for team in teams:
            team.message_post(
                body=Markup("<p>%s</p>")
                % self.env._(
                    "The sales regulation is installed in audit mode for this team: "
                    "nothing is refused; what it would refuse is recorded in CRM > Reporting "
                    "> Compliance. Watch compliance for two to four weeks, then press "
                    "“Enforce the Regulation” on the team."
                ),
                subtype_xmlid="mail.mt_note",
            )
        if teams:
            _logger.warning(
                "crm_regulation: %s existing sales teams start in audit mode: nothing is "
                "refused until an administrator switches them to enforce (CRM > "
                "Configuration > Sales Teams; CRM > Reporting > Compliance).",
                len(teams),
            )

    def _regulation_check_head_write(self, vals):
        """A head of sales (not a sales administrator) edits the regulation settings of the
        teams of their tree, and raises their mode only (off → audit → enforce): lowering
        it lifts rules and requirements the administrators set for every team."""
        allowed = set(self.env["res.users"]._crm_regulation_head_team_ids())
        if not vals.keys() <= HEAD_OF_SALES_TEAM_FIELDS or not allowed.issuperset(self.ids):
            raise AccessError(
                self.env._(
                    "A head of sales edits the regulation settings of their own teams and "
                    "sub-teams only; ask a sales administrator for the rest."
                )
            )
        mode = vals.get("regulation_mode")
        if mode and any(MODES.index(mode) < MODES.index(team.regulation_mode) for team in self):
            raise AccessError(
                self.env._(
                    "Only a sales administrator lowers the regulation mode of a team (a head "
                    "of sales raises it: off, audit, enforce)."
                )
            )

    @api.model
    def _regulation_check_mode(self, mode):
        """A clear error for an unknown mode (over RPC), before the database's."""
        if mode not in MODES:
            raise ValidationError(
                self.env._(
                    "“%(mode)s” is not a regulation mode: use one of %(modes)s.",
                    mode=mode,
                    modes=", ".join(MODES),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "regulation_mode" in vals:
                self._regulation_check_mode(vals["regulation_mode"])
        teams = super().create(vals_list)
        self.env.registry.clear_cache()  # the role matrix's scopes of the members
        return teams

    def write(self, vals):
        if "regulation_mode" in vals:
            self._regulation_check_mode(vals["regulation_mode"])
        if not self.env.su and self.env["res.users"]._crm_regulation_head_limited():
            self._regulation_check_head_write(vals)
        if "regulation_mode" in vals and not self.env.su:
            # a change of mode is always in the team's chatter, whatever the caller's context
            self = self.with_context(tracking_disable=False, mail_notrack=False)
        result = super().write(vals)
        if SCOPE_TEAM_FIELDS.intersection(vals) or "regulation_mode" in vals:
            self.env.registry.clear_cache()
        if "regulation_mode" in vals:
            # the SLAs of the team's open leads start or stop with the regulation
            self.env["crm.lead"]._sla_reschedule([(team.id, None) for team in self])
        if "resource_calendar_id" in vals:
            # the SLAs of the team's open leads are counted in the new hours
            self.env["crm.lead"]._sla_reschedule([(team.id, None) for team in self])
        return result

    def _regulation_calendar(self):
        """The working calendar deadlines of the team are counted in."""
        self.ensure_one()
        return (
            self.resource_calendar_id
            or self.company_id.resource_calendar_id
            or (self.env.company.resource_calendar_id)
        )

    @api.model
    def _regulation_calendars(self, team_ids):
        """{team id: working calendar} of ``team_ids`` (``_regulation_calendar``); key 0 for
        leads without a team: the company's."""
        # sudo: working hours of the leads' teams, whoever moves them
        teams = self.sudo().browse([team_id for team_id in team_ids if team_id])
        calendars = {team.id: team._regulation_calendar() for team in teams}
        if len(calendars) < len(team_ids):
            calendars[0] = self.env.company.resource_calendar_id
        return calendars

    regulation_warning = fields.Text(
        compute="_compute_regulation_warning",
        help="Problems of the team's regulation, such as a won stage no lead can reach.",
    )

    def _compute_regulation_warning(self):
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        for team in self:
            team.regulation_warning = team._regulation_won_unreachable(regulation) or False

    def _regulation_won_unreachable(self, regulation):
        """A warning when no lead can reach a won stage from the team's first stage by
        moves the regulation allows (allowed next stages, no skipping, rules that open a
        move). Requirements of fields and conditions are not considered: they can be met."""
        self.ensure_one()
        pipeline = self.env["crm.lead"]._regulation_pipelines(regulation).of(self.id)
        stages = regulation.stages
        won = {stage_id for stage_id in pipeline if stages[stage_id].is_won}
        # sudo: stage names, configuration everyone reads
        names = self.env["crm.stage"].sudo().browse(pipeline)
        if not pipeline:
            return False
        if not won:
            return self.env._(
                "The pipeline of this team has no won stage: its leads can only be won "
                "through a stage shared with other teams."
            )
        opened = {}
        for rule in regulation.rules:
            if rule.opens_move and (not rule.team_ids or self.id in rule.team_ids):
                for from_id in rule.from_stage_ids:
                    opened.setdefault(from_id, set()).add(rule.to_stage_id)
        reached, todo = {pipeline[0]}, [pipeline[0]]
        while todo:
            origin = stages[todo.pop()]
            index = pipeline.index(origin.id)
            if origin.allowed_next_ids:
                targets = set(origin.allowed_next_ids)
            elif origin.no_skip:
                targets = set(pipeline[: index + 2])
            else:
                targets = set(pipeline)
            targets |= opened.get(origin.id, set())
            for target in targets & set(pipeline) - reached:
                reached.add(target)
                todo.append(target)
        if won & reached:
            return False
        return self.env._(
            "With the current regulation, a lead of this team cannot reach a won stage "
            "from “%(first)s”: it can only reach %(reached)s. Check the allowed next stages "
            "and the “No Skipping” option of the stages, or add a transition rule.",
            first=names[:1].name,
            reached=", ".join(names.filtered(lambda stage: stage.id in reached).mapped("name")),
        )

    def action_view_regulation(self):
        """The team's sales regulation as an HTML page (printable as PDF from there)."""
        self.ensure_one()
        return self.env.ref("crm_regulation.action_report_sales_regulation_html").report_action(
            self
        )
