from odoo import api, models

# Odoo's rules the role matrix narrows: xmlid -> (stock domain, narrowed domain).
# "Personal Leads" shows the unassigned leads of every team to every salesperson; narrowed,
# it is the Salesperson's own scope (res_users.RegulationScope).
NARROWED_RULES = {
    "crm.crm_rule_personal_lead": (
        "['|',('user_id','=',user.id),('user_id','=',False)]",
        "[('regulation_scope', '=', 'own')]",
    ),
    # "Personal Activities" shows the done activities (and their notes) of the unassigned
    # leads of every team; narrowed, the activities of the leads the user may read
    "crm.crm_activity_report_rule_personal_activities": (
        "['|',('user_id','=',user.id),('user_id','=',False)]",
        "[('lead_id.regulation_scope', '=', 'readable')]",
    ),
}


class IrRule(models.Model):
    _inherit = "ir.rule"

    @api.model
    def _crm_regulation_narrow_stock_rules(self, restore=False):
        """Narrow Odoo's rules at install and upgrade; restore them at uninstall."""
        for xmlid, (stock, narrowed) in NARROWED_RULES.items():
            rule = self.env.ref(xmlid, raise_if_not_found=False)
            if rule:
                # sudo: install/uninstall sets fixed domains of Odoo's rules
                rule.sudo().domain_force = stock if restore else narrowed
