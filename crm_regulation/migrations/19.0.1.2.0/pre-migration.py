from odoo.addons.crm_regulation.hooks import prefill_outcome_columns


def migrate(cr, version):
    if version:
        prefill_outcome_columns(cr)
