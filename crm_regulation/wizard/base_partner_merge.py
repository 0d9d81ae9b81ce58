from odoo import fields, models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    # the group of the duplicates queue the wizard was opened from (crm.duplicate.group)
    crm_duplicate_group_id = fields.Many2one("crm.duplicate.group", readonly=True)

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        # a merge deletes the merged contacts (as superuser, Odoo's way): below head of
        # sales, the role matrix's users delete no contact
        self.env["res.partner"]._crm_regulation_check_manager(
            self.env._("Only the head of sales and CRM administrators merge contacts.")
        )
        return super()._merge(partner_ids, dst_partner=dst_partner, extra_checks=extra_checks)

    def action_merge(self):
        group = self.crm_duplicate_group_id
        # merging from the queue is for those who review the group
        group._check_mergeable()
        merged = self.partner_ids.ids
        result = super().action_merge()
        if len(self.env["res.partner"].browse(merged).exists()) < len(merged):
            group._mark_merged("contact", merged)  # (some were merged away)
        return result
