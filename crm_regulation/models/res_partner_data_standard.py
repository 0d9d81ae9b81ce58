"""The data standard on contacts: the phone in the company's format, the names of
companies split from their legal form (``crm.data.standard.mixin``)."""

from odoo import api, models


class ResPartnerDataStandard(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "crm.data.standard.mixin"]

    _data_standard_name_field = "name"

    # (these three overrides repeat the lead's: Odoo's own methods come before the mixin's
    # in both classes, so each model calls the mixin's part itself)
    @api.depends("name", "is_company")
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

    def _data_standard_company_name(self):
        return self.name or "" if self.is_company else ""

    def _data_standard_is_company(self, vals):
        return vals["is_company"] if "is_company" in vals else bool(self.is_company)

    def _data_standard_values(self, vals):
        # as the user: a company or parent they may not read is refused by the create or
        # write itself (never read for them here)
        Company = self.env["res.company"]
        company = (
            Company.browse(vals["company_id"])
            if vals.get("company_id")
            # the context's default for a new contact only (it is what it gets)
            else self.company_id
            or Company.browse(not self and self.env.context.get("default_company_id"))
        ) or self.env.company
        country = (
            self.env["res.country"].browse(vals["country_id"])
            if vals.get("country_id")
            else self.country_id
        )
        if not country and vals.get("parent_id"):
            country = self._data_standard_country_of(self.browse(vals["parent_id"]))
        return self._data_standard_readable(company, self.env["crm.team"], country)

    @api.model_create_multi
    def create(self, vals_list):
        return super().create(self._data_standard_create(vals_list))

    def write(self, vals):
        return super().write(self._data_standard_write(vals))
