"""19.0.1.8.0: the leads already contacted get their business hours to first contact; the
plans' rules of heads of sales and sales administrators apply to reading too (a new rule
lets salespeople read the plans of their teams only: without it, the rules of the data file,
kept as they were by noupdate, would limit administrators to it)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.lead"]._first_contact_fill_hours()
    for xmlid in (
        "crm_regulation.crm_kpi_target_rule_head",
        "crm_regulation.crm_kpi_target_rule_manager",
    ):
        rule = env.ref(xmlid, raise_if_not_found=False)
        if rule:
            rule.perm_read = True
