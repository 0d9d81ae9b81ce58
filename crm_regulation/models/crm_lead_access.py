"""The role matrix on leads: visibility scopes, sensitive fields, reassignment and export."""

import functools

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError

from .res_users import MANAGER_GROUPS, SCOPE_GROUPS

# Sensitive fields: hidden from the Marketer and Support roles (read for the Accountant,
# read/write as the record rules allow for the sales roles). The won criteria fields of the
# regulation and the fields listed in the CRM settings are added to these.
SENSITIVE_FIELDS = frozenset(
    {
        "expected_revenue",
        "prorated_revenue",
        "recurring_revenue",
        "recurring_revenue_monthly",
        "recurring_revenue_monthly_prorated",
        "recurring_revenue_prorated",
        "recurring_plan",
        "probability",
        "automated_probability",
        "description",
        "contract_signed",
        "contract_date",
        "first_payment_date",
    }
)
# what the roles outside the sales hierarchy may edit on a lead
MARKETER_FIELDS = frozenset({"campaign_id", "medium_id", "source_id"})
ACCOUNTANT_FIELDS = frozenset({"contract_signed", "contract_date", "first_payment_date"})
READER_VIEWS = {
    "form": "crm_regulation.crm_lead_view_form_reader",
    "list": "crm_regulation.crm_lead_view_list_reader",
    "kanban": "crm_regulation.crm_lead_view_kanban_reader",
}


# the role matrix's part of crm.lead, kept apart from the regulation engine
class CrmLead(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    regulation_scope = fields.Selection(
        [
            ("own", "Own leads"),
            ("team", "Leads of the own teams"),
            ("subteams", "Leads of the own teams and sub-teams"),
            ("marketer", "All leads (marketing)"),
            ("support", "Won leads"),
            ("accountant", "All leads (accounting)"),
            ("granted_read", "Temporary access (read)"),
            ("granted_write", "Temporary access (edit)"),
        ],
        string="Visibility Scope",
        compute="_compute_regulation_scope",
        search="_search_regulation_scope",
        help="Technical: the record rules of the role matrix search on it.",
    )

    def _compute_regulation_scope(self):
        self.regulation_scope = False

    def _search_regulation_scope(self, operator, value):
        if operator not in ("in", "="):
            return NotImplemented
        value = [value] if operator == "=" else value
        scope = self.env["res.users"]._crm_regulation_scope()
        now = fields.Datetime.now()
        return fields.Domain.OR(scope.domain(name, now) for name in value)

    def _check_access(self, operation):
        # Odoo checks the record rules of records in memory (``filtered_domain``), which
        # cannot run the search method of ``regulation_scope``: the rules are checked in
        # SQL instead, one query for the whole recordset.
        ids = self._ids
        if self.env.su or not ids or not all(isinstance(id_, int) for id_ in ids):
            return super()._check_access(operation)
        if not self.env["ir.model.access"].check(self._name, operation, raise_exception=False):
            return super()._check_access(operation)
        Rule = self.env["ir.rule"]
        domain = Rule._compute_domain(self._name, operation)
        if not any(cond.field_expr == "regulation_scope" for cond in domain.iter_conditions()):
            return super()._check_access(operation)
        query = (
            self.sudo()
            .with_context(active_test=False)
            ._search(fields.Domain("id", "in", ids) & domain)
        )
        allowed = set(query.get_result_ids())
        forbidden = self.browse(id_ for id_ in ids if id_ not in allowed)
        if forbidden:
            return forbidden, functools.partial(Rule._make_access_error, operation, forbidden)
        return None

    # ------------------------------------------------------------
    # Roles of the current user
    # ------------------------------------------------------------

    def _regulation_is_manager(self):
        """Head of sales and above (Odoo's sales administrators included)."""
        return self.env.su or self.env.user.has_groups(MANAGER_GROUPS)

    def _regulation_reader_roles(self):
        """The roles outside the sales hierarchy the user holds, when they hold no sales
        role: those see the reader views and the field limits below."""
        user = self.env.user
        if self.env.su or user.has_group("sales_team.group_sale_salesman"):
            return frozenset()
        return frozenset(
            name
            for name in ("marketer", "support", "accountant")
            if user.has_group(SCOPE_GROUPS[name])
        )

    @api.model
    @tools.ormcache("self.env.company.id")
    def _regulation_sensitive_fields(self):
        """The sensitive fields: the fixed ones, the won criteria of the regulation and
        those listed in the settings."""
        names = set(SENSITIVE_FIELDS)
        for rule in self.env["crm.regulation.rule"]._get_regulation().rules:
            if rule.target != "won":
                continue
            names.update(rule.field_names)
            if rule.required is not None:
                names.update(
                    cond.field_expr.split(".")[0] for cond in rule.required.iter_conditions()
                )
        names.update(self.env.company.sudo().crm_sensitive_field_ids.mapped("name"))
        return frozenset(name for name in names if name in self._fields)

    def _regulation_field_refused(self, field, operation):
        """Whether the role matrix refuses ``field`` to the current user."""
        readers = field.model_name == self._name and self._regulation_reader_roles()
        if not readers:
            return False
        if operation == "read":
            return "accountant" not in readers and field.name in self._regulation_sensitive_fields()
        allowed = set()
        if "marketer" in readers:
            allowed |= MARKETER_FIELDS
        if "accountant" in readers:
            allowed |= ACCOUNTANT_FIELDS
        return field.name not in allowed

    def _has_field_access(self, field, operation):
        return super()._has_field_access(field, operation) and not (
            self._regulation_field_refused(field, operation)
        )

    @api.model
    def _check_field_access(self, field, operation):
        if self._regulation_field_refused(field, operation):
            # Odoo's own message expects field groups
            raise AccessError(
                self.env._(
                    "Your role cannot %(operation)s the field “%(field)s” of leads.",
                    operation=self.env._("change") if operation == "write" else self.env._("see"),
                    field=field._description_string(self.env),
                )
            )
        return super()._check_field_access(field, operation)

    @api.model
    def get_view(self, view_id=None, view_type="form", **options):
        # Marketer, Support and Accountant see leads in views made for reading: the
        # standard ones show sensitive fields and sales actions everywhere
        if view_type in READER_VIEWS and self._regulation_reader_roles():
            view_id = self.env.ref(READER_VIEWS[view_type]).id
        return super().get_view(view_id, view_type, **options)

    # ------------------------------------------------------------
    # Reassignment and export
    # ------------------------------------------------------------

    def _regulation_check_assignment(self, vals_list):
        """Below head of sales, nobody gives a lead to another person or team: a
        salesperson only takes an unassigned lead, or creates one, for themselves and in
        their own teams."""
        if self._regulation_is_manager():
            return
        uid = self.env.uid
        own_teams = set(self.env["res.users"]._crm_regulation_scope().team_ids)
        for lead, vals in vals_list:
            if "user_id" in vals:
                new_user = vals["user_id"] or False
                old_user = lead.user_id.id if lead else False
                if (
                    new_user != old_user
                    and not (new_user == uid and not old_user)
                    and (lead or new_user)
                ):
                    raise AccessError(self._regulation_assignment_error(lead))
            if "team_id" in vals:
                new_team = vals["team_id"] or False
                old_team = lead.team_id.id if lead else False
                if new_team != old_team and not (not old_team and new_team in own_teams):
                    raise AccessError(self._regulation_assignment_error(lead))

    def _regulation_assignment_error(self, lead):
        return self.env._(
            "Only the head of sales reassigns leads to another salesperson or team%(lead)s. "
            "Ask them, or request temporary access (CRM > Configuration > Access Requests).",
            lead=self.env._(" (“%s”)", lead.display_name) if lead else "",
        )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self._regulation_check_assignment([(self.browse(), vals) for vals in vals_list])
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and {"user_id", "team_id"}.intersection(vals):
            self._regulation_check_assignment([(lead, vals) for lead in self])
        return super().write(vals)

    def export_data(self, fields_to_export):
        if not self._regulation_is_manager():
            raise AccessError(
                self.env._("Only the head of sales and CRM administrators export leads.")
            )
        return super().export_data(fields_to_export)
