from odoo import api, models
from odoo.exceptions import AccessError

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


# the role matrix's own rules on Odoo's models (contacts, followers, messages): active while
# the role matrix is in use, so that Odoo's users see no change (and pay nothing) before
MATRIX_RULES = (
    "crm_regulation.res_partner_rule_crm_regulation",
    "crm_regulation.res_partner_rule_crm_regulation_write",
    "crm_regulation.mail_followers_rule_crm_regulation",
    "crm_regulation.mail_message_rule_marketer",
    "crm_regulation.mail_message_rule_sales",
)
# the rules of the temporary accesses (every internal user): active while one is approved
GRANT_RULES = (
    "crm_regulation.crm_lead_rule_granted_read",
    "crm_regulation.crm_lead_rule_granted_write",
)


class IrRule(models.Model):
    _inherit = "ir.rule"

    @api.model
    def _crm_regulation_sync_stock_rules(self, restore=False):
        """Odoo's rules stay as Odoo ships them while the role matrix is not in use: no
        user holds one of its roles, no company applies it to Odoo's Sales groups, no
        temporary access is approved. Then Odoo's own users see and do exactly what they
        did before the addon, and the rules name no field of the addon. Once it is in use,
        Odoo's "Personal Leads" and "Personal Activities" are narrowed (to Odoo's own
        domain again for the users it does not govern: ``RegulationScope.governed``) and
        the temporary accesses' rules are active; the role matrix's rules on contacts,
        followers and messages are active while it is in use. Called at install, upgrade and
        uninstall (``restore``), and when roles, the setting or approvals change."""
        # sudo: the role matrix's switch of Odoo's rules and of its own; fixed domains
        Rule = self.sudo()
        in_use = not restore and self.env["res.users"]._crm_regulation_matrix_in_use()
        granting = not restore and self.env["crm.access.request"]._crm_regulation_granting()
        for xmlid, (stock, narrowed) in NARROWED_RULES.items():
            rule = Rule.env.ref(xmlid, raise_if_not_found=False)
            domain = narrowed if in_use else stock
            if rule and rule.domain_force != domain:
                rule.domain_force = domain
        for xmlids, active in ((GRANT_RULES, granting), (MATRIX_RULES, in_use)):
            for xmlid in xmlids:
                rule = Rule.with_context(active_test=False).env.ref(xmlid, raise_if_not_found=False)
                if rule and rule.active != active:
                    rule.active = active

    def _make_access_error(self, operation, records):
        """A lead or contact kept from a user the role matrix governs: the error says where
        to ask for it."""
        error = super()._make_access_error(operation, records)
        if (
            records._name in ("crm.lead", "res.partner")
            and self.env["res.users"]._crm_regulation_governed()
        ):
            hint = self.env._(
                "Ask your head of sales, or request temporary access to the lead: "
                "CRM > Sales > Access Requests."
            )
            hinted = AccessError(f"{error.args[0]}\n\n{hint}")
            if hasattr(error, "context"):
                hinted.context = error.context
            return hinted
        return error

    @api.model
    def _eval_context(self):
        """``crm_regulation_team_ids``: the teams the user leads or belongs to and their
        sub-teams (the tree a head of sales owns the regulation of), for the rules of
        the regulation's configuration and compliance log."""
        context = super()._eval_context()
        context["crm_regulation_team_ids"] = list(
            self.env["res.users"]._crm_regulation_scope().subteam_ids
        )
        return context
