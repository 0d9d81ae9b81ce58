"""The data standard on leads: the phone in the company's (or the team's) format, the
company name split from its legal form (``crm.data.standard.mixin``), and the value checks
a stage asks of the leads entering it (lead source from a stage on, a valid e-mail, an amount
above zero, a closing date not past, an address with a postcode): requirements of the
regulation like the stage's required fields, so its modes apply."""

import re

from odoo import api, fields, models
from odoo.tools.mail import email_normalize

from .cursor_flags import NORMALIZING, flagged
from .regulation import Requirement

# {value check: the lead fields it reads} (the stage's fields: ``STAGE_CHECK_FIELDS``)
CHECK_FIELDS = {
    "source": ("source_id",),
    "email": ("email_from",),
    "amount": ("expected_revenue",),
    "closing_date": ("date_deadline",),
    "address": ("street", "zip"),
}
# an address with a domain that has a dot (Odoo's normalization accepts "a@b")
VALID_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


# one capability a file (crm_lead.py says which)
class CrmLeadDataStandard(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.data.standard.mixin"]  # pylint: disable=consider-merging-classes-inherited

    _data_standard_name_field = "partner_name"

    @api.depends("partner_name")
    def _compute_company_key(self):
        return super()._compute_company_key()

    def _compute_phone_sanitized(self):
        result = super()._compute_phone_sanitized()
        self._data_standard_unsanitize()
        return result

    @api.onchange("phone", "country_id", "company_id")
    def _onchange_phone_validation(self):
        if self._data_standard_onchange_phone():
            return None
        return super()._onchange_phone_validation()

    def _inverse_phone(self):
        # the normalization of existing data formats the lead's phone only: its customer's
        # is the customer's (normalized with the contacts, or not at all)
        if flagged(self.env, NORMALIZING):
            return None
        return super()._inverse_phone()

    def _data_standard_company_name(self):
        return self.partner_name or ""

    @api.depends("phone_sanitized")
    def _compute_phone_state(self):
        """crm's phone quality, "incorrect" too for a number the standard finds invalid."""
        result = super()._compute_phone_state()
        for lead in self:
            if lead.phone and not lead.phone_sanitized and lead.phone_state == "correct":
                lead.phone_state = "incorrect"
        return result

    @api.model
    def _data_standard_default_team(self, vals):
        """The team crm gives a new lead created without one (its salesperson's), when a
        team has a standard of its own (one query otherwise)."""
        Team = self.env["crm.team"]
        if not Team.search_count([("phone_standard", "!=", "company")], limit=1):
            return Team
        user_id = vals["user_id"] if "user_id" in vals else self.env.uid
        return Team._get_default_team_id(user_id=user_id) if user_id else Team

    def _data_standard_inherited_phone(self, vals):
        """A customer named without a phone: the lead takes the customer's (crm)."""
        if vals.get("partner_id") and not vals.get("phone"):
            partner = self.env["res.partner"].browse(vals["partner_id"])
            return partner.phone if partner.has_access("read") else ""
        return ""

    def _data_standard_values(self, vals):
        # as the user: a company, team or customer they may not read is refused by the
        # create or write itself (never read for them here)
        Company, Team = self.env["res.company"], self.env["crm.team"]
        context = self.env.context
        # the context's defaults for a new lead only (they are what it gets)
        defaults = {} if self else context
        company = (
            Company.browse(vals["company_id"])
            if vals.get("company_id")
            else self.company_id or Company.browse(defaults.get("default_company_id"))
        ) or self.env.company
        team = (
            Team.browse(vals["team_id"])
            if "team_id" in vals
            else self.team_id or Team.browse(defaults.get("default_team_id"))
        )
        if not self and "team_id" not in vals and not team:
            team = self._data_standard_default_team(vals)
        country = (
            self.env["res.country"].browse(vals["country_id"])
            if vals.get("country_id")
            else self.country_id
        )
        if not country:
            partner = (
                self.env["res.partner"].browse(vals["partner_id"])
                if vals.get("partner_id")
                else self.partner_id
            )
            country = self._data_standard_country_of(partner)
        return self._data_standard_readable(company, team, country)

    # ------------------------------------------------------------
    # Value checks of the stages (regulation requirements: the modes apply)
    # ------------------------------------------------------------

    @api.model
    def _regulation_value_check_fields(self, transitions, regulation):
        """The lead fields the value checks of the stages entered read."""
        codes = {
            code
            for transition in transitions
            if transition.entered
            for code in regulation.stages[transition.to_stage_id].checks
        }
        if any("source" in stage.checks for stage in regulation.stages.values()):
            codes.add("source")
        return {fname for code in codes for fname in CHECK_FIELDS[code]}

    @api.model
    def _regulation_value_checks(self, transition, regulation, evaluation):
        """The checks of the stage ``transition`` enters: its own, and the lead source when
        this stage or an earlier one of the pipeline requires it from there on."""
        stages = regulation.stages
        stage = stages[transition.to_stage_id]
        codes = set(stage.checks) - {"source"}
        if any("source" in spec.checks for spec in stages.values()):
            pipeline = evaluation.pipelines.of(transition.team_id)
            upto = pipeline[: pipeline.index(stage.id) + 1] if stage.id in pipeline else [stage.id]
            if any("source" in stages[stage_id].checks for stage_id in upto):
                codes.add("source")
        return [code for code in CHECK_FIELDS if code in codes]

    @api.model
    def _regulation_check_values(self, items, transition, regulation, evaluation):
        """Append the value checks of the stage ``transition`` enters to ``items``."""
        lead_id = transition.lead_id
        caches = evaluation.caches
        for code in self._regulation_value_checks(transition, regulation, evaluation):
            values = [caches[fname][lead_id] for fname in CHECK_FIELDS[code]]
            met = self._regulation_value_met(code, values)
            if met and evaluation.unmet_only:
                continue
            text, missing = self._regulation_value_texts(code, values)
            items.append(
                Requirement(text=text, missing=missing, met=met, severity="block", rule_id=0)
            )

    @api.model
    def _regulation_value_met(self, code, values):
        if code == "email":
            return not values[0] or bool(VALID_EMAIL.match(email_normalize(values[0]) or ""))
        if code == "amount":
            return (values[0] or 0) > 0
        if code == "closing_date":
            return bool(values[0]) and values[0] >= fields.Date.context_today(self)
        return all(values)  # source, address (street and postcode)

    @api.model
    def _regulation_value_texts(self, code, values):
        """(what must hold, what is wrong) of a value check, for the checklist and refusals."""
        if code == "source":
            return self.env._("the lead source is chosen"), self.env._(
                "the lead source is not chosen"
            )
        if code == "email":
            return (
                self.env._("the e-mail is a valid address"),
                self.env._("the e-mail “%s” is not a valid address", values[0]),
            )
        if code == "amount":
            return (
                self.env._("the expected revenue is above zero"),
                self.env._("the expected revenue is not above zero"),
            )
        if code == "closing_date":
            return (
                self.env._("the expected closing is today or later"),
                self.env._("the expected closing date is in the past")
                if values[0]
                else self.env._("the expected closing date is empty"),
            )
        return (
            self.env._("the address has a street and a postcode"),
            self.env._("the address lacks a street or a postcode"),
        )
