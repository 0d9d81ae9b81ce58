from odoo import fields, models
from odoo.exceptions import UserError


class CrmLeadRestore(models.TransientModel):
    _name = "crm.lead.restore"
    _description = "Return Leads to Work"

    lead_ids = fields.Many2many("crm.lead", string="Leads", context={"active_test": False})
    reason = fields.Text(string="Why", required=True)
    review = fields.Boolean(help="Returned from the loss review.")

    def action_apply(self):
        self.ensure_one()
        if not (self.reason or "").strip():
            raise UserError(self.env._("Say why the leads return to work."))
        if self.review:
            self.lead_ids._regulation_return_reviewed(self.reason)
        else:
            self.lead_ids.action_return_to_work(self.reason)
        return {"type": "ir.actions.act_window_close"}
