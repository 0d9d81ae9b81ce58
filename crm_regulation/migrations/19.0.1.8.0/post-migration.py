"""19.0.1.8.0: the leads already contacted get their business hours to first contact."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.lead"]._first_contact_fill_hours()
