from odoo import fields, models
from odoo.orm.models import parse_read_group_spec
from odoo.tools import SQL

from ..models.crm_lead_stage_history import END_REASONS


class CrmRegulationReport(models.Model):
    """Stays of leads in stages (the stage history), one row each, with their SLA outcome
    and business hours: SLA compliance, mean and 90th percentile of the time in stage per
    stage, team and salesperson. The 90th percentile is computed by PostgreSQL for each
    group the pivot asks for (an aggregator of its own), never averaged from rows."""

    _name = "crm.regulation.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Stage SLA Analysis"
    _auto = False
    _order = "date_in desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.lead.stage.history": [
            "lead_id",
            "stage_id",
            "team_id",
            "user_id",
            "company_id",
            "date_in",
            "date_out",
            "end_reason",
            "duration_hours",
            "duration_business_hours",
            "sla_hours",
            "sla_deadline",
            "sla_breached",
            "sla_overdue_hours",
        ],
    }

    lead_id = fields.Many2one("crm.lead", readonly=True)
    stage_id = fields.Many2one("crm.stage", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date_in = fields.Datetime(string="Entered", readonly=True)
    date_out = fields.Datetime(string="Left", readonly=True)
    is_open = fields.Boolean(string="Current Stay", readonly=True)
    end_reason = fields.Selection(
        END_REASONS,
        string="Ended By",
        readonly=True,
    )
    stay_count = fields.Integer(string="Stays", readonly=True)
    sla_stay_count = fields.Integer(
        string="Stays with an SLA", readonly=True, help="Finished or breached stays with a target."
    )
    breached_count = fields.Integer(string="SLA Breaches", readonly=True)
    compliance = fields.Float(
        string="Within SLA (%)",
        aggregator="avg",
        readonly=True,
        help="Stays within their target / finished or breached stays with a target (a stay "
        "still running within its target is not counted yet).",
    )
    sla_hours = fields.Float(string="SLA (Business Hours)", aggregator="avg", readonly=True)
    business_hours = fields.Float(
        string="Time in Stage (Business Hours)",
        aggregator="avg",
        readonly=True,
        help="Mean working hours of the team spent in the stage (finished stays).",
    )
    business_hours_p90 = fields.Float(
        string="Time in Stage, 90th Percentile (Business Hours)",
        aggregator="p90",
        readonly=True,
        help="9 stays out of 10 took at most this many working hours (finished stays).",
    )
    calendar_hours = fields.Float(
        string="Time in Stage (Calendar Hours)", aggregator="avg", readonly=True
    )
    overdue_hours = fields.Float(
        string="Overdue (Business Hours)",
        aggregator="avg",
        readonly=True,
        help="Mean business hours past the deadline, over the breached stays.",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT h.id, h.lead_id, h.stage_id, h.team_id, h.user_id, h.company_id,
                   h.date_in, h.date_out, h.date_out IS NULL AS is_open, h.end_reason,
                   1 AS stay_count,
                   (h.sla_deadline IS NOT NULL
                    AND (h.date_out IS NOT NULL OR h.sla_breached))::int AS sla_stay_count,
                   COALESCE(h.sla_breached, FALSE)::int AS breached_count,
                   CASE WHEN h.sla_deadline IS NULL THEN NULL
                        WHEN h.sla_breached THEN 0.0
                        WHEN h.date_out IS NOT NULL THEN 100.0 END AS compliance,
                   h.sla_hours,
                   h.duration_business_hours AS business_hours,
                   h.duration_business_hours AS business_hours_p90,
                   h.duration_hours AS calendar_hours,
                   CASE WHEN h.sla_breached THEN h.sla_overdue_hours END AS overdue_hours
              FROM crm_lead_stage_history h
            """
        )

    def _read_group_select(self, aggregate_spec, query):
        """``field:p90``: the 90th percentile of the field over each group."""
        if aggregate_spec != "__count":
            fname, _property, func = parse_read_group_spec(aggregate_spec)
            if func == "p90":
                super()._read_group_select(f"{fname}:max", query)  # field checks, access
                return SQL(
                    "percentile_cont(0.9) WITHIN GROUP (ORDER BY %s)",
                    self._field_to_sql(self._table, fname, query),
                )
        return super()._read_group_select(aggregate_spec, query)
