from odoo import models


class CrmTeamMember(models.Model):
    # a membership decides what a salesperson sees (res_users.RegulationScope): like the
    # regulation's configuration, a change of what the scopes read clears them
    _name = "crm.team.member"
    _inherit = ["crm.team.member", "crm.regulation.config.mixin"]
    _regulation_snapshot_fields = ("crm_team_id", "user_id", "active")
