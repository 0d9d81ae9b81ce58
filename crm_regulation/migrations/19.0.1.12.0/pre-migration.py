"""19.0.1.12.0: the data standard's key columns are created empty before the ORM sees the
new fields (no computation of every lead and contact at upgrade; the sweep fills them)."""

from odoo.addons.crm_regulation.hooks import prefill_data_standard_columns


def migrate(cr, version):
    if not version:
        return
    prefill_data_standard_columns(cr)
