from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_sensitive_field_ids = fields.Many2many(
        related="company_id.crm_sensitive_field_ids", readonly=False
    )
    crm_access_max_days = fields.Integer(related="company_id.crm_access_max_days", readonly=False)
