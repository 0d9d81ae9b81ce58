from odoo import fields, models
from odoo.tools import SQL

from ..models.kpi_sql import stage_entries, stage_outcome, team_stages


class CrmRegulationFunnelReport(models.Model):
    """The funnel by entry: one row per lead and stage of its team's pipeline it entered (its
    first entry), with whether it went on to a later stage or how it dropped (lost,
    disqualified, still there), and its time in the stage. Conversion is "went on ÷
    entered", cohorts by the day of entry; past the qualification stage disqualified leads
    are left out. The same SQL as the KPI engine (models/kpi_sql.py)."""

    _name = "crm.regulation.funnel.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Funnel Analysis (Stage Conversion)"
    _auto = False
    _order = "date_entered desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.lead.stage.history": ["lead_id", "stage_id", "date_in", "duration_business_hours"],
        "crm.lead": [
            "team_id",
            "user_id",
            "company_id",
            "outcome",
            "source_id",
            "medium_id",
            "campaign_id",
        ],
        "crm.stage": ["sequence", "is_won", "team_ids"],
        "crm.team": ["qualification_stage_id"],
    }

    lead_id = fields.Many2one("crm.lead", readonly=True)
    stage_id = fields.Many2one("crm.stage", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    source_id = fields.Many2one("utm.source", readonly=True)
    medium_id = fields.Many2one("utm.medium", readonly=True)
    campaign_id = fields.Many2one("utm.campaign", readonly=True)
    date_entered = fields.Datetime(string="Entered the Stage", readonly=True)
    entered_count = fields.Integer(
        string="Entered",
        readonly=True,
        help="Leads that entered the stage (past the qualification stage, disqualified leads "
        "are left out).",
    )
    went_on_count = fields.Integer(
        string="Went On", readonly=True, help="Of those, leads that reached a later stage."
    )
    lost_count = fields.Integer(string="Dropped: Lost", readonly=True)
    disqualified_count = fields.Integer(string="Dropped: Disqualified", readonly=True)
    still_there_count = fields.Integer(string="Dropped: Still There", readonly=True)
    conversion = fields.Float(
        string="Conversion to Next Stage (%)",
        aggregator="avg",
        readonly=True,
        help="Leads that went on ÷ leads that entered the stage.",
    )
    business_hours = fields.Float(
        string="Time in Stage (Business Hours)",
        aggregator="avg",
        readonly=True,
        help="Working hours of the team of the first stay in the stage (finished stays).",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            WITH ts AS (%(ts)s)
            SELECT e.id, e.lead_id, e.stage_id, l.team_id, l.user_id, l.company_id,
                   l.source_id, l.medium_id, l.campaign_id, e.date_in AS date_entered,
                   o.counted::int AS entered_count,
                   (o.counted AND o.went_on)::int AS went_on_count,
                   (o.counted AND o.dropped = 'lost')::int AS lost_count,
                   (o.counted AND o.dropped = 'disqualified')::int AS disqualified_count,
                   (o.counted AND o.dropped = 'still_there')::int AS still_there_count,
                   CASE WHEN o.counted THEN CASE WHEN o.went_on THEN 100.0 ELSE 0.0 END
                        END AS conversion,
                   e.hours AS business_hours
              FROM (%(entries)s) e
              JOIN crm_lead l ON l.id = e.lead_id
              JOIN ts s ON s.team_key = COALESCE(l.team_id, 0) AND s.stage_id = e.stage_id
             CROSS JOIN LATERAL (%(outcome)s) o
             WHERE s.is_won IS NOT TRUE
            """,
            ts=team_stages(),
            entries=stage_entries(SQL("TRUE")),
            outcome=stage_outcome("l", "s", "e"),
        )
