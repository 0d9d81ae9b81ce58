from odoo import models


class CrmActivityReport(models.Model):
    # Odoo's activity analysis follows the lead's scope (ir_rule.NARROWED_RULES): its rules
    # search the role matrix's scope, checked in SQL by the mixin
    _name = "crm.activity.report"
    _inherit = ["crm.activity.report", "crm.regulation.scope.mixin"]
