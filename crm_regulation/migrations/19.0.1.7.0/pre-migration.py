"""19.0.1.7.0: regulation modes. A database that ran an earlier version enforced the
regulation on every team and applied the role matrix to Odoo's Sales groups: its teams
start in ``enforce``, its companies keep the role matrix for those groups."""

from odoo.tools.sql import column_exists

from odoo.addons.crm_regulation.hooks import prefill_regulation_modes


def migrate(cr, version):
    if not version:
        return
    prefill_regulation_modes(cr, "enforce")
    if not column_exists(cr, "res_company", "crm_role_matrix_for_sales_groups"):
        cr.execute("ALTER TABLE res_company ADD COLUMN crm_role_matrix_for_sales_groups boolean")
        cr.execute("UPDATE res_company SET crm_role_matrix_for_sales_groups = TRUE")
