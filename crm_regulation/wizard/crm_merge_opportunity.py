from odoo import fields, models


class CrmMergeOpportunity(models.TransientModel):
    _inherit = "crm.merge.opportunity"

    # the group of the duplicates queue the wizard was opened from (crm.duplicate.group)
    crm_duplicate_group_id = fields.Many2one("crm.duplicate.group", readonly=True)

    def action_merge(self):
        group = self.crm_duplicate_group_id
        # merging from the queue is for those who review the group
        group._check_mergeable()
        merged = self.opportunity_ids.ids
        result = super().action_merge()
        group._mark_merged("lead", merged)
        return result
