from odoo import api, fields, models

from .crm_regulation_sla_mixin import SLA_FIELDS


class CrmStageSla(models.Model):
    """A team's own SLA for a stage, instead of the stage's (0 hours: no SLA for the team)."""

    _name = "crm.stage.sla"
    _inherit = ["crm.regulation.config.mixin", "crm.regulation.sla.mixin"]
    _description = "Team Stage SLA"
    _order = "team_id, stage_id"
    _sla_scope_fields = ("team_id", "stage_id")
    _regulation_head_editable = True  # for the teams of their tree
    _regulation_snapshot_fields = ("team_id", "stage_id", *SLA_FIELDS)

    team_id = fields.Many2one(
        "crm.team", string="Sales Team", required=True, index=True, ondelete="cascade"
    )
    stage_id = fields.Many2one("crm.stage", required=True, ondelete="cascade")
    sla_hours = fields.Float(
        help="This team's target time of a lead in the stage, in its working hours. 0: no "
        "SLA for this team."
    )

    _team_stage_unique = models.Constraint(
        "UNIQUE (team_id, stage_id)", "A team has one SLA per stage."
    )

    @api.depends("team_id", "stage_id")
    def _compute_display_name(self):
        for sla in self:
            sla.display_name = f"{sla.team_id.name} / {sla.stage_id.name}"

    def _regulation_team_scope(self):
        return [sla.team_id.ids for sla in self]

    def _sla_teams(self):
        return self.team_id

    def _sla_scope(self):
        return [(sla.team_id.id, sla.stage_id.id) for sla in self]
