from odoo import models


class CrmTeamMember(models.Model):
    # a membership decides what a salesperson sees (res_users.RegulationScope): like the
    # regulation's configuration, any change clears the cached scopes
    _name = "crm.team.member"
    _inherit = ["crm.team.member", "crm.regulation.config.mixin"]
