"""19.0.1.11.0: the Accountant reads the won leads and those with a signed contract, no
longer every lead: their rule (kept by the database, noupdate) is named for it. The rule's
domain is unchanged (the scope is resolved per query)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    rule = env.ref("crm_regulation.crm_lead_rule_accountant", raise_if_not_found=False)
    if rule:
        rule.name = "Leads: won and with a signed contract (accounting)"
