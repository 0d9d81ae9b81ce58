import ast
import logging

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.fields import Domain

from .regulation import (
    STAGE_CHECK_FIELDS,
    ReasonSpec,
    Regulation,
    RuleSpec,
    SlaSpec,
    StageSpec,
)

_logger = logging.getLogger(__name__)

# Where the domains of a rule may lead from a lead, and what they may read there: the
# regulation evaluates them for every salesperson and shows the result (checklist,
# refusals), so a domain must not read what a salesperson may not (README, Security model).
# Another lead is never a target (its fields would leak through this lead's checklist);
# of users, their name only. None: every field without a group restriction.
DOMAIN_MODELS = {
    "res.partner": None,
    "res.partner.category": None,
    "res.partner.industry": None,
    "res.country": None,
    "res.country.state": None,
    "crm.team": None,
    "crm.stage": None,
    "crm.tag": None,
    "crm.lost.reason": None,
    "utm.campaign": None,
    "utm.medium": None,
    "utm.source": None,
    "res.users": frozenset({"id", "name", "display_name"}),
}
# the only group a field of a rule's domain may be restricted to: every user has it
DOMAIN_FIELD_GROUPS = (None, "base.group_user")
# operators that follow a relation (and may read the related records' names)
RELATION_OPERATORS = frozenset({"any", "not any", "child_of", "parent_of"})


class CrmRegulationRule(models.Model):
    _name = "crm.regulation.rule"
    # mail.thread: who changed what in the regulation, in the rule's chatter (heads of sales
    # edit their teams' rules, administrators every rule)
    _inherit = ["crm.regulation.config.mixin", "mail.thread"]
    _description = "Stage Transition Rule"
    _order = "sequence, id"
    # what the cached regulation reads of a rule (not its name or message)
    _regulation_head_editable = True  # for the teams of their tree
    _regulation_snapshot_fields = (
        "active",
        "sequence",
        "team_ids",
        "from_stage_ids",
        "target",
        "to_stage_id",
        "condition_domain",
        "required_field_ids",
        "required_domain",
        "required_activity_type_ids",
        "severity",
        "bypass_group_ids",
    )

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    team_ids = fields.Many2many(
        "crm.team",
        string="Sales Teams",
        help="Teams whose leads the rule applies to. Empty: every team.",
        tracking=True,
    )
    from_stage_ids = fields.Many2many(
        "crm.stage",
        "crm_regulation_rule_from_stage_rel",
        "rule_id",
        "stage_id",
        string="From Stages",
        help="The rule applies to leads leaving one of these stages. Empty: from anywhere, "
        "new leads included. A rule that names its origin stages and a target stage also "
        "allows that move when the origin stage forbids skipping or limits the next stages.",
        tracking=True,
    )
    target = fields.Selection(
        [("stage", "Stage"), ("won", "Won"), ("lost", "Lost")],
        required=True,
        default="stage",
        help="What the lead is about to become: enter a stage, be won (enter any won stage) "
        "or be lost.",
        tracking=True,
    )
    to_stage_id = fields.Many2one("crm.stage", index=True, ondelete="cascade", tracking=True)
    condition_domain = fields.Char(
        string="Applies To",
        default="[]",
        help="The rule applies only to leads matching this domain.",
        tracking=True,
    )
    required_field_ids = fields.Many2many(
        "ir.model.fields",
        "crm_regulation_rule_required_field_rel",
        "rule_id",
        "field_id",
        string="Required Fields",
        domain=[("model", "=", "crm.lead"), ("store", "=", True)],
        help="Fields of the lead that must be set (not empty, not zero).",
        tracking=True,
    )
    required_domain = fields.Char(
        string="Required Conditions",
        default="[]",
        help="The lead must match this domain, e.g. contract signed and first payment received.",
        tracking=True,
    )
    required_activity_type_ids = fields.Many2many(
        "mail.activity.type",
        string="Required Done Activities",
        help="Activities of these types must have been done on the lead.",
        tracking=True,
    )
    severity = fields.Selection(
        [("block", "Block"), ("warn", "Warn")],
        required=True,
        default="block",
        help="Block: the move is refused. Warn: the move happens and the warning is posted "
        "on the lead.",
        tracking=True,
    )
    bypass_group_ids = fields.Many2many(
        "res.groups",
        string="Bypass Groups",
        help="Members of these groups may move leads although the rule is not met; every "
        "bypass is logged on the lead.",
        tracking=True,
    )
    message = fields.Text(
        translate=True,
        help="What the user has to do to meet the rule; shown with the refusal or warning.",
    )

    # ------------------------------------------------------------
    # CONSTRAINTS (bad input is refused at save, never at the next move)
    # ------------------------------------------------------------

    @api.constrains("target", "to_stage_id")
    def _check_target(self):
        for rule in self:
            if rule.target == "stage" and not rule.to_stage_id:
                raise ValidationError(
                    self.env._("Rule “%s”: choose the stage the rule is about.", rule.name)
                )

    @api.constrains("condition_domain", "required_domain", "active")
    def _check_domains(self):
        for rule in self.filtered("active"):  # archived rules apply to nothing
            for fname in ("condition_domain", "required_domain"):
                self._parse_domain(rule[fname], rule, fname)

    @api.constrains("required_field_ids")
    def _check_required_fields(self):
        for rule in self:
            self.env["crm.stage"]._check_lead_fields(rule.required_field_ids, rule.name)

    @api.model
    def _parse_domain(self, text, rule=None, fname="condition_domain"):
        """Parse a domain given as text with literals only (never evaluated as code) and
        check every field path against crm.lead, and that it reads only what every
        salesperson may read (``_check_domain_paths``). Returns None for "every lead"."""
        try:
            value = ast.literal_eval((text or "").strip() or "[]")
            if not isinstance(value, (list, tuple)):
                raise ValueError(type(value).__name__)
            domain = Domain(value)
            domain.validate(self.env["crm.lead"])
            self._check_domain_paths(self.env["crm.lead"], domain, root=True)
        except Exception as error:  # any parse or validation error, worded for the user
            label = self._fields[fname]._description_string(self.env)
            raise ValidationError(
                self.env._(
                    "Rule “%(rule)s”: “%(field)s” is not a valid domain on leads: %(error)s\n"
                    "Use a list of conditions with literal values, e.g. "
                    '[("contract_signed", "=", True)].',
                    rule=rule.name if rule else "",
                    field=label,
                    error=error,
                )
            ) from error
        return None if domain.is_true() else domain

    @api.model
    def _check_domain_paths(self, model, domain, root=False):
        """Refuse a domain that could make the regulation an oracle: a path through a
        field restricted to a group (or that the editing user may not read), a
        non-stored field without a search method, a relation to a model outside
        DOMAIN_MODELS (another lead included), a field of a user other than the name.
        Checked on the domain as Odoo runs it (``optimize``: paths become ``any``
        sub-domains, ``id any`` is inlined, a name compared to a relation becomes a
        search of its ``display_name``), so no spelling goes around the check."""
        for condition in domain.optimize(model).iter_conditions():
            operator, value = condition.operator, condition.value
            if operator.endswith("!"):
                raise ValueError(self.env._("operator “%s” is not allowed", operator))
            name = condition.field_expr.split(".", 1)[0]
            if not root:
                self._check_domain_model(model, name)
            field = model._fields[name]
            self._check_domain_field(model, field)
            if "." in condition.field_expr:  # what optimize leaves dotted: properties
                raise ValueError(self.env._("“%s” is not a relation", field.name))
            if operator not in RELATION_OPERATORS:
                continue
            if not field.relational:
                raise ValueError(self.env._("“%s” is not a relation", field.name))
            comodel = self.env[field.comodel_name]
            if operator in ("any", "not any"):
                if not isinstance(value, Domain):
                    raise ValueError(self.env._("operator “%s” is not allowed", operator))
                self._check_domain_paths(comodel, value)
            else:  # child_of / parent_of follow the related records' parents
                self._check_domain_model(comodel, comodel._parent_name)

    @api.model
    def _check_domain_model(self, model, fname):
        if model._name not in DOMAIN_MODELS:
            raise ValueError(
                self.env._(
                    "a rule may not read records of “%s” (allowed: the lead's customer, team, "
                    "stage, tags, reasons, campaign, medium, source, country and the names "
                    "of users)",
                    model._description,
                )
            )
        allowed = DOMAIN_MODELS[model._name]
        if allowed is not None and fname not in allowed:
            raise ValueError(self.env._("a rule may read the name of a user only, not “%s”", fname))

    @api.model
    def _check_domain_field(self, model, field):
        if field.type == "properties":
            raise ValueError(self.env._("properties (“%s”) are not allowed", field.name))
        if field.groups not in DOMAIN_FIELD_GROUPS or not (
            self.env.su or model._has_field_access(field, "read")
        ):
            raise ValueError(
                self.env._(
                    "“%(field)s” of “%(model)s” is restricted to some users",
                    field=field.name,
                    model=model._description,
                )
            )
        if not field._description_searchable:
            raise ValueError(self.env._("“%s” is computed and cannot be searched", field.name))

    @api.model
    def _archive_unsafe_rules(self):
        """Archive the active rules whose domains an older version accepted but that read
        what a salesperson may not (upgrade to 19.0.1.5.0). Returns them."""
        unsafe = self.browse()
        for rule in self.search([]):  # pylint: disable=no-search-all
            try:
                for fname in ("condition_domain", "required_domain"):
                    # sudo: structural checks only (no editor: upgrade)
                    self.sudo()._parse_domain(rule[fname], rule, fname)
            except ValidationError as error:
                _logger.warning("crm_regulation: rule %s archived: %s", rule.id, error)
                unsafe |= rule
        unsafe.write({"active": False})
        return unsafe

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    @api.model
    def _rule_spec(self, rule):
        """A rule as plain data; None (and an error in the log) for a rule whose domains
        are no longer acceptable (a field restricted by another module since it was
        saved, a rule written in the database directly): left out, so that it can neither
        leak nor stop every lead of the database."""
        try:
            condition = self._parse_domain(rule.condition_domain, rule)
            required = self._parse_domain(rule.required_domain, rule, "required_domain")
        except ValidationError as error:
            _logger.error("crm_regulation: rule %s left out of the regulation: %s", rule.id, error)
            return None
        return RuleSpec(
            id=rule.id,
            team_ids=frozenset(rule.team_ids.ids),
            from_stage_ids=frozenset(rule.from_stage_ids.ids),
            target=rule.target,
            to_stage_id=rule.to_stage_id.id,
            condition=condition,
            field_names=tuple(rule.required_field_ids.mapped("name")),
            required=required,
            activity_type_ids=frozenset(rule.required_activity_type_ids.ids),
            severity=rule.severity,
            bypass_group_ids=frozenset(rule.bypass_group_ids.ids),
        )

    def _regulation_team_scope(self):
        return [rule.team_ids.ids for rule in self]

    @api.model
    @tools.ormcache()
    def _get_regulation(self):
        """The active regulation (rules, stage shortcuts, reasons, SLAs) as immutable plain
        data (``regulation.py``), cached per registry and cleared when a field it reads
        changes (``crm.regulation.config.mixin``), so that a stage change of a lead costs
        no query to know what applies."""
        # sudo: the whole regulation, whoever asks first (the cache is shared); its domains
        # were checked against their editor at save
        rules = self.sudo().with_context(active_test=True).search([("active", "=", True)])
        # configuration tables: a few dozen rows
        # sudo: the whole regulation, cached for everyone
        stages = self.env["crm.stage"].sudo().search([])  # pylint: disable=no-search-all
        enabled = bool(rules) or any(
            stage.required_field_ids
            or any(stage[fname] for fname in STAGE_CHECK_FIELDS.values())
            or stage.allowed_next_stage_ids
            or stage.no_skip
            or stage.entry_activity_plan_id
            for stage in stages
        )
        reasons = (
            # sudo: the whole regulation, cached for everyone
            self.env["crm.lost.reason"].sudo().with_context(active_test=False).search([])  # pylint: disable=no-search-all
        )
        # sudo: the whole regulation, cached for everyone
        overrides = self.env["crm.stage.sla"].sudo().search([])  # pylint: disable=no-search-all

        def sla(record):
            return SlaSpec(
                hours=record.sla_hours,
                warning_ratio=record.sla_warning_ratio,
                notify=record.sla_notify,
                action=record.sla_action,
            )

        slas = {(0, stage.id): sla(stage) for stage in stages if stage.sla_hours > 0}
        slas.update({(o.team_id.id, o.stage_id.id): sla(o) for o in overrides})
        # sudo: every team's mode and every company's default (configuration, a few rows)
        teams = self.env["crm.team"].sudo().with_context(active_test=False).search([])  # pylint: disable=no-search-all
        # sudo: every company's default mode (configuration)
        companies = self.env["res.company"].sudo().with_context(active_test=False).search([])  # pylint: disable=no-search-all
        return Regulation(
            modes={team.id: team.regulation_mode for team in teams},
            company_modes={company.id: company.crm_regulation_mode for company in companies},
            slas=slas,
            enabled=enabled,
            reasons={
                reason.id: ReasonSpec(
                    id=reason.id,
                    category=reason.category,
                    requires_comment=reason.requires_comment,
                    requires_duplicate_of=reason.requires_duplicate_of,
                )
                for reason in reasons
            },
            rules=tuple(spec for rule in rules if (spec := rules._rule_spec(rule))),
            stages={
                stage.id: StageSpec(
                    id=stage.id,
                    team_ids=frozenset(stage.team_ids.ids),
                    is_won=stage.is_won,
                    field_names=tuple(stage.required_field_ids.mapped("name")),
                    allowed_next_ids=frozenset(stage.allowed_next_stage_ids.ids),
                    no_skip=stage.no_skip,
                    plan_id=stage.entry_activity_plan_id.id,
                    window_days=stage.entry_activity_window_days,
                    checks=frozenset(
                        code for code, fname in STAGE_CHECK_FIELDS.items() if stage[fname]
                    ),
                )
                for stage in stages
            },
        )
