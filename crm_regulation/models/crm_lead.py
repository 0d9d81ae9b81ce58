from odoo import api, fields, models

# Fields whose change can start or end a stay in a stage (probability: a lead becomes
# lost when an archived lead gets a zero probability, see crm.lead.action_set_lost).
STAY_FIELDS = frozenset({"stage_id", "active", "probability"})


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
        staying = leads.filtered(lambda lead: lead.active and lead.stage_id)
        self.env["crm.lead.stage.history"]._open_stays(
            staying,
            when_by_lead={lead.id: lead.date_last_stage_update for lead in staying},
            when=self.env.cr.now(),
        )
        return leads

    def write(self, vals):
        if not STAY_FIELDS.intersection(vals):
            return super().write(vals)
        before = {lead.id: (lead.stage_id.id, lead.active, lead.won_status) for lead in self}
        result = super().write(vals)
        self._sync_stage_history(before)
        return result

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _sync_stage_history(self, before):
        """Close and open stays for the leads of this batch whose stage or state changed.

        :param dict before: {lead_id: (stage_id, active, won_status)} before the write
        """
        close_reason = {}
        to_open = self.browse()
        became_lost = []
        for lead in self:
            old_stage, old_active, old_status = before[lead.id]
            new_stage, new_active, new_status = (
                lead.stage_id.id,
                lead.active,
                lead.won_status,
            )
            was_staying = bool(old_active and old_stage)
            is_staying = bool(new_active and new_stage)
            moved = old_stage != new_stage
            if was_staying and (not is_staying or moved):
                if not new_active:
                    reason = "lost" if new_status == "lost" else "archived"
                elif new_status == "won" and old_status != "won":
                    reason = "won"
                else:
                    reason = "moved"
                close_reason[lead.id] = reason
            if is_staying and (not was_staying or moved):
                to_open |= lead
            if not was_staying and new_status == "lost" and old_status != "lost":
                became_lost.append(lead.id)
        if not (close_reason or to_open or became_lost):
            return
        History = self.env["crm.lead.stage.history"]
        now = self.env.cr.now()
        History._close_stays(close_reason, now)
        History._open_stays(to_open, when=now)
        History._mark_lost(became_lost)
        self.invalidate_recordset(["stage_history_ids", "stage_history_count"])

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_stage_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_lead_stage_history_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id, "search_default_group_by_lead": 0}
        action["display_name"] = self.env._("Stage history of %s", self.display_name)
        return action
