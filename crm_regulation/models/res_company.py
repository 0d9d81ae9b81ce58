from odoo import fields, models


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

    def write(self, vals):
        result = super().write(vals)
        if "crm_sensitive_field_ids" in vals:
            self.env.registry.clear_cache()
        return result
