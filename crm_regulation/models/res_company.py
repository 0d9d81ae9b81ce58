from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_sensitive_field_ids = fields.Many2many(
        "ir.model.fields",
        "crm_regulation_company_sensitive_field_rel",
        "company_id",
        "field_id",
        string="Sensitive Lead Fields",
        domain=[("model", "=", "crm.lead")],
        help="Lead fields hidden from the Marketer and Support roles, on top of the expected "
        "revenue, probability, internal notes and won criteria.",
    )

    crm_access_max_days = fields.Integer(
        string="Temporary Access: Longest (Days)",
        default=90,
        help="The longest a temporary CRM access may last, counted from the request. 0: no limit.",
    )

    @api.constrains("crm_access_max_days")
    def _check_crm_access_max_days(self):
        if any(company.crm_access_max_days < 0 for company in self):
            raise ValidationError(
                self.env._("The longest temporary access cannot be a negative number of days.")
            )

    def write(self, vals):
        result = super().write(vals)
        if "crm_sensitive_field_ids" in vals:
            self.env.registry.clear_cache()
        return result
