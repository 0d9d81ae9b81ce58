from odoo import api, fields, models

# Fields whose change can start or end a stay in a stage. A probability set to 0 matters
# too: an archived lead becomes lost that way (crm.lead.action_set_lost archives first).
# The stage history itself is kept by crm.lead.stage.history._sync_leads().
STAY_FIELDS = frozenset({"stage_id", "active"})


class CrmLead(models.Model):
    _inherit = "crm.lead"

    stage_history_ids = fields.One2many("crm.lead.stage.history", "lead_id", readonly=True)
    stage_history_count = fields.Integer(compute="_compute_stage_history_count")

    def _compute_stage_history_count(self):
        counts = dict(
            self.env["crm.lead.stage.history"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.stage_history_count = counts.get(lead, 0)

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        self.env["crm.lead.stage.history"]._sync_leads(leads, date_in_from_lead=True)
        return leads

    def write(self, vals):
        result = super().write(vals)
        became_lost = vals.get("probability", 1) == 0
        if became_lost or STAY_FIELDS.intersection(vals):
            self.env["crm.lead.stage.history"]._sync_leads(self, became_lost=became_lost)
        return result

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_stage_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_lead_stage_history_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        action["display_name"] = self.env._("Stage history of %s", self.display_name)
        return action
