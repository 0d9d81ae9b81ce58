from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .crm_regulation_rule import DOMAIN_FIELD_GROUPS
from .crm_regulation_sla_mixin import SLA_FIELDS
from .regulation import STAGE_CHECK_FIELDS


class CrmStage(models.Model):
    _name = "crm.stage"
    _inherit = [
        "crm.stage",
        "crm.regulation.config.mixin",
        "crm.regulation.sla.mixin",
        "crm.regulation.column.defaults.mixin",
    ]
    # what the cached regulation reads of a stage (not its name, sequence or folding)
    _regulation_snapshot_fields = (
        "team_ids",
        "is_won",
        "required_field_ids",
        "allowed_next_stage_ids",
        "no_skip",
        "entry_activity_plan_id",
        "entry_activity_window_days",
        *STAGE_CHECK_FIELDS.values(),
        *SLA_FIELDS,
    )

    required_field_ids = fields.Many2many(
        "ir.model.fields",
        "crm_stage_required_field_rel",
        "stage_id",
        "field_id",
        string="Required to Enter",
        domain=[("model", "=", "crm.lead"), ("store", "=", True)],
        help="Fields of the lead that must be set (not empty, not zero) to enter this stage.",
    )
    allowed_next_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_stage_allowed_next_rel",
        "stage_id",
        "next_stage_id",
        string="Allowed Next Stages",
        help="Stages a lead may move to from this one. Empty: any stage. A transition rule "
        "naming this stage and its target allows other moves.",
    )
    no_skip = fields.Boolean(
        string="No Skipping",
        help="Leads leave this stage forward one stage at a time: moving forward by more than "
        "one stage is refused unless a transition rule names that move.",
    )
    entry_activity_plan_id = fields.Many2one(
        "mail.activity.plan",
        string="Tasks on Entry",
        domain=[("res_model", "=", "crm.lead")],
        help="Activity plan scheduled for the lead's salesperson when a lead enters this stage.",
    )
    entry_activity_window_days = fields.Integer(
        string="Not Again Within (Days)",
        default=30,
        help="A lead that comes back to this stage within this many days after leaving it "
        "does not get the tasks again.",
    )
    # the data standard's value checks (``crm_lead_data_standard.py``)
    source_required_from = fields.Boolean(
        string="Lead Source Required From Here",
        help="Leads entering this stage, or any later stage of their pipeline (won "
        "included), must have a lead source from the list.",
    )
    check_email = fields.Boolean(
        string="Valid E-mail",
        help="Leads entering this stage must not have an e-mail that is not a valid address.",
    )
    check_amount = fields.Boolean(
        string="Amount Above Zero",
        help="Leads entering this stage must have an expected revenue above zero.",
    )
    check_closing_date = fields.Boolean(
        string="Closing Date Not Past",
        help="Leads entering this stage must have an expected closing date, today or later.",
    )
    check_address = fields.Boolean(
        string="Address With Postcode",
        help="Leads entering this stage must have a street and a postcode.",
    )
    regulation_rule_ids = fields.One2many(
        "crm.regulation.rule", "to_stage_id", string="Transition Rules"
    )
    sla_override_ids = fields.One2many(
        "crm.stage.sla", "stage_id", string="Team SLAs", help="Teams with their own SLA here."
    )

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("required_field_ids")
    def _check_required_fields(self):
        for stage in self:
            self._check_lead_fields(stage.required_field_ids, stage.name)

    @api.constrains("entry_activity_window_days")
    def _check_entry_activity_window_days(self):
        if any(stage.entry_activity_window_days < 0 for stage in self):
            raise ValidationError(
                self.env._(
                    "The number of days before tasks are scheduled again cannot be negative."
                )
            )

    @api.model
    def _regulation_order(self):
        """Every stage id in the kanban order (read at each use: not in the cached
        regulation, so that resequencing the columns keeps every worker's cache); stages of
        the same sequence by id, the same order in every language."""
        # sudo: the order of the pipeline's stages, configuration everyone reads
        return self.sudo().search([], order="sequence, id").ids  # pylint: disable=no-search-all

    def _sla_teams(self):
        # sudo: teams to reschedule, whoever edits the stage
        return self.team_ids or self.env["crm.team"].sudo().search([])  # pylint: disable=no-search-all

    def _sla_scope(self):
        return [(None, stage.id) for stage in self]

    @api.model
    def _check_lead_fields(self, ir_fields, owner):
        """Required fields must be stored fields of crm.lead that every salesperson reads
        and the editing user may read (checked at save: the checklist shows whether they
        are filled)."""
        Lead = self.env["crm.lead"]

        def readable(name):
            field = Lead._fields[name]
            return field.groups in DOMAIN_FIELD_GROUPS and (
                self.env.su or Lead._has_field_access(field, "read")
            )

        wrong = ir_fields.filtered(
            lambda field: field.model != "crm.lead"
            or not field.store
            or field.name not in Lead._fields
            or not readable(field.name)
        )
        if wrong:
            raise ValidationError(
                self.env._(
                    "“%(owner)s”: only stored fields of leads that every salesperson may read "
                    "can be required, not: %(fields)s.",
                    owner=owner,
                    fields=", ".join(
                        f"{field.field_description} ({field.model})" for field in wrong
                    ),
                )
            )
