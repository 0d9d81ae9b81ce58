"""19.0.1.10.0: the steps already run by the revival program get their rows in the figures
per step (crm.revival.delivery, new), and the e-mail steps their template's chooser (the
user who last wrote the step: its template is rendered first as them)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.lead"]._revival_backfill_deliveries()
