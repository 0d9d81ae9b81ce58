"""19.0.1.7.0: the companies count calls and meetings as first contacts; every lead gets its
first contact from its messages (one statement)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    companies = env["res.company"].search([("crm_first_contact_activity_type_ids", "=", False)])
    companies.crm_first_contact_activity_type_ids = companies._crm_first_contact_default_types()
    env["crm.lead"]._first_contact_backfill()
