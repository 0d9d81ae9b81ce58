from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        # a merge deletes the merged contacts (as superuser, Odoo's way): below head of
        # sales, the role matrix's users delete no contact
        self.env["res.partner"]._crm_regulation_check_manager(
            self.env._("Only the head of sales and CRM administrators merge contacts.")
        )
        return super()._merge(partner_ids, dst_partner=dst_partner, extra_checks=extra_checks)
