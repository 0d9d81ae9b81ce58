from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.mail import is_html_empty

from ..models.regulation import ENFORCE


class CrmLeadLost(models.TransientModel):
    """One dialog to lose or disqualify leads, whatever the path (button, kanban, list
    action): it asks for what the reason requires; the leads' write path checks it again
    with the regulation's rules targeting "lost" (so does RPC ``action_set_lost``)."""

    _name = "crm.lead.lost"
    _inherit = ["crm.lead.lost", "crm.regulation.column.defaults.mixin"]

    category = fields.Selection(
        [("loss", "Lost"), ("disqualification", "Disqualified")],
        string="Outcome",
        default="loss",
        required=True,
    )
    lost_reason_id = fields.Many2one(domain="[('category', '=', category)]")
    requires_comment = fields.Boolean(related="lost_reason_id.requires_comment")
    requires_duplicate_of = fields.Boolean(related="lost_reason_id.requires_duplicate_of")
    duplicate_of_id = fields.Many2one(
        "crm.lead",
        string="Original Lead",
        domain="[('id', 'not in', lead_ids)]",
        context={"active_test": False},
    )

    @api.onchange("category")
    def _onchange_category(self):
        if self.lost_reason_id.category != self.category:
            self.lost_reason_id = False

    def _check_lost_input(self):
        self.ensure_one()
        if not self.lead_ids:
            raise UserError(self.env._("Choose the leads to close."))
        enforced = self.lead_ids._regulation_in_mode(ENFORCE)
        if not enforced:
            return  # audit or off: the leads' write path logs what the regulation misses
        missing = None
        if not self.lost_reason_id:
            missing = self.env._("Choose a reason.")
        elif self.requires_comment and is_html_empty(self.lost_feedback):
            missing = self.env._(
                "The reason “%s” requires a closing note.", self.lost_reason_id.name
            )
        elif self.requires_duplicate_of and not self.duplicate_of_id:
            missing = self.env._(
                "The reason “%s” requires the original lead.", self.lost_reason_id.name
            )
        if missing:
            # a refusal of the regulation like the write path's: in the compliance log
            self.env["crm.regulation.violation"]._record(
                enforced._regulation_closing_violations(missing), refused=True
            )
            raise UserError(missing)
        if self.requires_duplicate_of and self.duplicate_of_id in self.lead_ids:
            raise UserError(
                self.env._("A lead cannot be the duplicate of itself: choose another lead.")
            )

    def action_lost_reason_apply(self):
        self._check_lost_input()
        # what the reason requires is written with the loss (the leads' write path checks
        # it for every way of losing a lead)
        values = {"lost_feedback": self.lost_feedback}
        if self.requires_duplicate_of:
            values["duplicate_of_id"] = self.duplicate_of_id.id
        self.lead_ids.write(values)
        return super().action_lost_reason_apply()

    def action_merge_with_original(self):
        """Merge the duplicates into the original lead with Odoo's merge dialog instead."""
        self.ensure_one()
        if not self.duplicate_of_id:
            raise UserError(self.env._("Choose the original lead first."))
        leads = self.duplicate_of_id | self.lead_ids
        # Odoo's merge dialog takes its leads from active_ids
        action = self.env["ir.actions.act_window"]._for_xml_id("crm.action_merge_opportunities")
        action["context"] = {"active_model": "crm.lead", "active_ids": leads.ids}
        return action
