"""The revival program («Программа реанимации»): lost leads warmed up by a chain of steps chosen
by segment, back to their owner when the customer responds.

``crm.revival.program``: which lost leads (teams, a segment as a domain over leads, revivable
lost reasons, days since lost), where they come back (re-entry stage); ``crm.revival.step``:
each step's delay in business days of the team's calendar and its action (an e-mail template
sent through the lead's chatter, or an activity); ``crm.revival.enrollment``: one lead in one
program, its current step and next run. The enrollments are written by ``crm.lead``'s revival
path and the runner cron only (``crm_lead_revival.py``).
"""

import ast

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain

from .business_clock import business_moment, clock_for

ENROLLMENT_STATES = [
    ("running", "Running"),
    ("revived", "Revived"),
    ("finished", "Finished"),
    ("stopped", "Stopped"),
]
# who reads the program's figures (the revival report)
REVIVAL_FIGURES = (
    "crm_regulation.group_marketer,crm_regulation.group_head_of_sales,sales_team.group_sale_manager"
)


class CrmRevivalProgram(models.Model):
    _name = "crm.revival.program"
    _description = "Revival Program"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    team_ids = fields.Many2many(
        "crm.team",
        "crm_revival_program_team_rel",
        "program_id",
        "team_id",
        string="Sales Teams",
        help="The teams whose lost leads the program takes (empty: every team).",
    )
    domain = fields.Char(
        string="Segment",
        default="[]",
        required=True,
        help="The leads of the segment, as a domain over leads (tags, UTM, any field).",
    )
    lost_reason_ids = fields.Many2many(
        "crm.lost.reason",
        "crm_revival_program_reason_rel",
        "program_id",
        "reason_id",
        string="Accepted Lost Reasons",
        domain=[("revivable", "=", True), ("category", "=", "loss")],
        help="Revivable reasons the program takes (empty: every revivable loss reason).",
    )
    min_days_lost = fields.Integer(
        string="Minimum Days Since Lost",
        default=0,
        help="The program takes a lead this many days after it was lost.",
    )
    reentry_stage_id = fields.Many2one(
        "crm.stage",
        string="Re-entry Stage",
        required=True,
        help="The stage a revived lead comes back to.",
    )
    step_ids = fields.One2many("crm.revival.step", "program_id", string="Steps", copy=True)
    enrollment_count = fields.Integer(
        compute="_compute_figures", string="Enrolled", groups=REVIVAL_FIGURES
    )
    sent_count = fields.Integer(
        compute="_compute_figures", string="Steps Run", groups=REVIVAL_FIGURES
    )
    replied_count = fields.Integer(
        compute="_compute_figures", string="Replies", groups=REVIVAL_FIGURES
    )
    revived_count = fields.Integer(
        compute="_compute_figures", string="Revived", groups=REVIVAL_FIGURES
    )
    won_count = fields.Integer(
        compute="_compute_figures", string="Won After Revival", groups=REVIVAL_FIGURES
    )

    def _compute_figures(self):
        """The program's figures: those of the revival report, over the leads the user
        may read."""
        figures = {
            program: counts
            for program, *counts in self.env["crm.revival.report"]._read_group(
                [("program_id", "in", self.ids)],
                ["program_id"],
                [
                    "enrolled_count:sum",
                    "sent_count:sum",
                    "replied_count:sum",
                    "revived_count:sum",
                    "won_count:sum",
                ],
            )
        }
        for program in self:
            (
                program.enrollment_count,
                program.sent_count,
                program.replied_count,
                program.revived_count,
                program.won_count,
            ) = figures.get(program, (0, 0, 0, 0, 0))

    def action_view_figures(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_revival_report_action"
        )
        action["domain"] = [("program_id", "=", self.id)]
        action["context"] = {"pivot_row_groupby": ["step_id"]}
        return action

    @api.constrains("domain")
    def _check_domain(self):
        for program in self:
            program._segment_domain()

    @api.constrains("min_days_lost")
    def _check_min_days_lost(self):
        for program in self:
            if program.min_days_lost < 0:
                raise ValidationError(self.env._("A number of days since lost is not negative."))

    @api.constrains("reentry_stage_id", "team_ids")
    def _check_reentry_stage(self):
        for program in self:
            stage_teams = program.reentry_stage_id.team_ids
            if stage_teams and not program.team_ids:
                raise ValidationError(
                    self.env._(
                        "A program of every team comes back to a stage of every team, not to %s.",
                        program.reentry_stage_id.name,
                    )
                )
            if stage_teams and program.team_ids - stage_teams:
                others = ", ".join(team.name for team in program.team_ids - stage_teams)
                raise ValidationError(
                    self.env._(
                        "The re-entry stage %(stage)s is not in the pipeline of %(teams)s.",
                        stage=program.reentry_stage_id.name,
                        teams=others,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        programs = super().create(vals_list)
        programs._check_segment_as_writer()
        return programs

    def write(self, vals):
        result = super().write(vals)
        if "domain" in vals:
            self._check_segment_as_writer()
        if "team_ids" in vals:
            # Odoo checks the record rules before a write: a head of sales may not take
            # their program to another team, or to every team, by the write itself
            self.check_access("write")
        return result

    def _check_segment_as_writer(self):
        """The segment's paths as the user who writes it (Odoo runs the constraints as the
        system): nothing they may not read."""
        for program in self:
            program._segment_domain()

    def _segment_domain(self):
        """The program's segment: a domain of literals over leads (never evaluated as code),
        with the regulation's own check of its rules' domains (no path through a field
        restricted to a group or that the user may not read, no other lead), and never a
        sensitive field of the role matrix (revenue, probability, notes, ...): the system
        tests it on every lost lead, and the enrollments, which marketers read, would tell
        its value."""
        self.ensure_one()
        Lead = self.env["crm.lead"]
        try:
            value = ast.literal_eval((self.domain or "").strip() or "[]")
            if not isinstance(value, (list, tuple)):
                raise ValueError(type(value).__name__)
            domain = Domain(value)
            domain.validate(Lead)
            self.env["crm.regulation.rule"]._check_domain_paths(Lead, domain, root=True)
            sensitive = Lead._regulation_sensitive_fields()
            for condition in domain.optimize(Lead).iter_conditions():
                name = condition.field_expr.split(".", 1)[0]
                if name in sensitive:
                    raise ValueError(
                        self.env._("“%s” is a sensitive field of the role matrix", name)
                    )
        except Exception as error:  # any parse or validation error, worded for the user
            raise ValidationError(
                self.env._(
                    "The segment of %(program)s is not a domain over leads with literal "
                    "values: %(error)s",
                    program=self.name,
                    error=error,
                )
            ) from error
        return domain

    def action_view_enrollments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_revival_enrollment_action"
        )
        action["domain"] = [("program_id", "=", self.id)]
        return action


class CrmRevivalStep(models.Model):
    _name = "crm.revival.step"
    _description = "Revival Step"
    _order = "program_id, sequence, id"

    program_id = fields.Many2one(
        "crm.revival.program", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    delay_days = fields.Integer(
        string="Delay (Business Days)",
        default=7,
        help="Business days of the team's calendar after the previous step (after the "
        "enrollment for the first step).",
    )
    action = fields.Selection(
        [("email", "Send an E-mail"), ("activity", "Schedule an Activity")],
        required=True,
        default="email",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="E-mail Template", domain=[("model", "=", "crm.lead")]
    )
    activity_type_id = fields.Many2one("mail.activity.type")
    activity_user = fields.Selection(
        [("owner", "The Previous Owner"), ("marketer", "A Marketer")],
        string="Activity For",
        default="owner",
    )
    activity_user_id = fields.Many2one(
        "res.users",
        string="Marketer",
        domain=lambda self: [
            ("share", "=", False),
            ("group_ids", "in", self.env.ref("crm_regulation.group_marketer").ids),
        ],
        help="The marketer the activity is for.",
    )
    summary = fields.Char(translate=True)
    template_user_id = fields.Many2one(
        "res.users",
        string="Template Chosen By",
        readonly=True,
        help="The step's e-mail is first rendered as this user: it reads nothing they may not.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [
            dict(vals, template_user_id=self.env.uid if vals.get("mail_template_id") else False)
            for vals in vals_list
        ]
        return super().create(vals_list)

    def write(self, vals):
        vals = {key: value for key, value in vals.items() if key != "template_user_id"}
        if "mail_template_id" in vals:
            vals["template_user_id"] = self.env.uid
        result = super().write(vals)
        if "program_id" in vals:
            self.check_access("write")  # (see the program's write)
        return result

    @api.depends(
        "program_id.step_ids",
        "sequence",
        "action",
        "mail_template_id.name",
        "activity_type_id.name",
        "summary",
    )
    def _compute_display_name(self):
        for step in self:
            ids = step.program_id.step_ids.ids
            position = ids.index(step.id) + 1 if step.id in ids else 0
            what = (
                step.mail_template_id.name
                if step.action == "email"
                else step.summary or step.activity_type_id.name
            )
            action = dict(step._fields["action"]._description_selection(step.env)).get(
                step.action, ""
            )
            name = f"{action}: {what}" if what else action
            step.display_name = f"{position}. {name}" if position else name

    @api.constrains(
        "delay_days", "action", "mail_template_id", "activity_type_id", "activity_user_id"
    )
    def _check_step(self):
        for step in self:
            if step.delay_days < 0:
                raise ValidationError(self.env._("A step's delay is not negative."))
            if step.action == "email":
                if not step.mail_template_id:
                    raise ValidationError(self.env._("An e-mail step needs its template."))
                step._check_template()
            if step.action == "activity" and not step.activity_type_id:
                raise ValidationError(self.env._("An activity step needs its activity type."))
            marketer = step.activity_user_id
            if marketer and (
                marketer.share or not marketer.has_group("crm_regulation.group_marketer")
            ):
                raise ValidationError(
                    self.env._(
                        "%s is not a marketer: the activity is for a marketer.", marketer.name
                    )
                )

    def _check_template(self):
        """A step's e-mail goes to the lead's customer only, as the lead's message: a
        template of leads, to their default recipients, without reports (a report renders
        records of its own model). Checked at save and again when the step runs (the
        template may change meanwhile)."""
        template = self.mail_template_id
        problem = None
        if template.model != "crm.lead":
            problem = self.env._("it is not for leads")
        elif template.report_template_ids:
            problem = self.env._("it attaches reports")
        elif template.email_to or template.partner_to or template.email_cc:
            problem = self.env._("it has recipients of its own (To, Cc)")
        elif not template.use_default_to:
            problem = self.env._("it is not sent to the lead's default recipients")
        if problem:
            raise ValidationError(
                self.env._(
                    "The template %(template)s cannot be a revival step: %(problem)s.",
                    template=template.name,
                    problem=problem,
                )
            )

    def _next_run(self, calendar, start):
        """When this step runs: ``delay_days`` business days of ``calendar`` (its hours per
        day of working time) after ``start``, the previous step (naive UTC)."""
        self.ensure_one()
        if not self.delay_days:
            return start
        hours = self.delay_days * (calendar.hours_per_day or 8.0)
        return business_moment(clock_for(calendar, [start], hours), start, hours)


class CrmRevivalEnrollment(models.Model):
    _name = "crm.revival.enrollment"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Revival Enrollment"
    _order = "id desc"
    _rec_name = "lead_id"

    lead_id = fields.Many2one(
        "crm.lead", required=True, ondelete="cascade", index=True, readonly=True
    )
    program_id = fields.Many2one(
        "crm.revival.program", required=True, ondelete="cascade", index=True, readonly=True
    )
    step_id = fields.Many2one("crm.revival.step", string="Next Step", readonly=True)
    steps_done = fields.Integer(readonly=True)
    next_run = fields.Datetime(readonly=True)
    state = fields.Selection(
        ENROLLMENT_STATES,
        required=True,
        default="running",
        readonly=True,
        index=True,
    )
    stop_reason = fields.Char(readonly=True)
    owner_id = fields.Many2one("res.users", string="Previous Owner", readonly=True)
    date_enrolled = fields.Datetime(readonly=True, default=fields.Datetime.now)
    date_revived = fields.Datetime(readonly=True)
    replied = fields.Boolean(readonly=True, help="Revived by a reply of the customer.")
    # the contact of the lead while it is in the program: the Marketer, who reads no contact
    # data of leads, reads these of the leads their programs run
    partner_id = fields.Many2one("res.partner", string="Customer", compute="_compute_contact")
    email_from = fields.Char(string="Email", compute="_compute_contact")
    phone = fields.Char(compute="_compute_contact")

    _one_running = models.UniqueIndex(
        "(lead_id) WHERE state = 'running'", "A lead is in one revival program at a time."
    )
    _due_idx = models.Index("(next_run) WHERE state = 'running'")

    @api.depends_context("uid")
    @api.depends("state", "lead_id")
    def _compute_contact(self):
        Lead = self.env["crm.lead"]
        reads_contacts = Lead._has_field_access(Lead._fields["email_from"], "read")
        for enrollment in self:
            # sudo: the contact of a lead the user reads (the enrollment's rule), shown
            # while it runs, or to whoever reads the lead's contact data anyway
            lead = enrollment.lead_id.sudo()
            shown = enrollment.state == "running" or reads_contacts
            enrollment.partner_id = lead.partner_id if shown else False
            enrollment.email_from = lead.email_from if shown else False
            enrollment.phone = lead.phone if shown else False


class CrmRevivalDelivery(models.Model):
    """One step run for one enrollment: the figures per step, and the proof that each step
    runs once per enrollment (unique)."""

    _name = "crm.revival.delivery"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Revival Step Run"
    _order = "date desc, id desc"

    enrollment_id = fields.Many2one(
        "crm.revival.enrollment", required=True, ondelete="cascade", readonly=True
    )
    step_id = fields.Many2one("crm.revival.step", ondelete="set null", index=True, readonly=True)
    position = fields.Integer(readonly=True, help="1 for the first step the lead got, and so on.")
    date = fields.Datetime(readonly=True, default=fields.Datetime.now)

    _once = models.UniqueIndex("(enrollment_id, step_id)", "A step runs once for an enrollment.")
