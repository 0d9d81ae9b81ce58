from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_sensitive_field_ids = fields.Many2many(
        related="company_id.crm_sensitive_field_ids", readonly=False
    )
    crm_access_max_days = fields.Integer(related="company_id.crm_access_max_days", readonly=False)
    crm_first_contact_activity_type_ids = fields.Many2many(
        related="company_id.crm_first_contact_activity_type_ids", readonly=False
    )
    crm_regulation_mode = fields.Selection(related="company_id.crm_regulation_mode", readonly=False)
    crm_role_matrix_for_sales_groups = fields.Boolean(
        related="company_id.crm_role_matrix_for_sales_groups", readonly=False
    )
    crm_phone_standard = fields.Selection(related="company_id.crm_phone_standard", readonly=False)
    crm_phone_format = fields.Selection(related="company_id.crm_phone_format", readonly=False)
    crm_company_name_display = fields.Selection(
        related="company_id.crm_company_name_display", readonly=False
    )
