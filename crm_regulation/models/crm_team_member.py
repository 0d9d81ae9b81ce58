from odoo import api, models


class CrmTeamMember(models.Model):
    _inherit = "crm.team.member"

    # a membership decides what a salesperson sees (RegulationScope): changes clear the
    # cached scopes, as Odoo does when groups change

    @api.model_create_multi
    def create(self, vals_list):
        members = super().create(vals_list)
        self.env.registry.clear_cache()
        return members

    def write(self, vals):
        result = super().write(vals)
        if {"active", "user_id", "crm_team_id"}.intersection(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
