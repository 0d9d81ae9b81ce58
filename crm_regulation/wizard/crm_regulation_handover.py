from odoo import api, fields, models


class CrmRegulationHandover(models.TransientModel):
    _name = "crm.regulation.handover"
    _description = "Hand a Salesperson's Work Over"

    user_id = fields.Many2one(
        "res.users",
        string="Leaver",
        required=True,
        domain=[("share", "=", False)],
        help="The salesperson whose open leads, tasks and revival leads are handed over.",
    )
    target_user_id = fields.Many2one(
        "res.users",
        string="Hand Over To",
        domain=[("share", "=", False)],
        help="A member of the leads' teams. Empty, or not in a lead's team: the lead goes back "
        "to its team unassigned (the team's assignment picks it up).",
    )
    lead_count = fields.Integer(string="Open Leads", compute="_compute_lead_count")

    @api.depends("user_id")
    def _compute_lead_count(self):
        Lead = self.env["crm.lead"]
        for wizard in self:
            wizard.lead_count = (
                Lead.search_count([("user_id", "=", wizard.user_id.id), ("outcome", "=", "open")])
                if wizard.user_id
                else 0
            )

    def action_hand_over(self):
        self.ensure_one()
        leads = self.env["crm.lead"]._regulation_hand_over(self.user_id, self.target_user_id)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "%(count)s leads of %(leaver)s handed over.",
                    count=len(leads),
                    leaver=self.user_id.name,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
