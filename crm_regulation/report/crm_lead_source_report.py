from odoo import fields, models
from odoo.tools import SQL

from ..models.kpi_sql import qualified, team_stages


class CrmLeadSourceReport(models.Model):
    """Lead-source quality: one row per lead with its UTM source, medium and campaign, and
    what became of it (qualified, disqualified and why, won or lost, revenue won, first
    contact speed). Rates are shares of the leads of the group: the qualification and
    disqualification rates of all its leads (disqualified included), the win rate of its won
    and lost leads only. No contact data: marketers read the figures, not the customers."""

    _name = "crm.lead.source.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Lead Source Quality"
    _auto = False
    _order = "create_date desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.lead": [
            "create_date",
            "team_id",
            "user_id",
            "company_id",
            "source_id",
            "medium_id",
            "campaign_id",
            "outcome",
            "lost_reason_id",
            "expected_revenue",
            "first_contact_hours",
        ],
        "crm.lead.stage.history": ["lead_id", "stage_id"],
    }

    lead_id = fields.Many2one("crm.lead", readonly=True)
    create_date = fields.Datetime(string="Created On", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    source_id = fields.Many2one("utm.source", readonly=True)
    medium_id = fields.Many2one("utm.medium", readonly=True)
    campaign_id = fields.Many2one("utm.campaign", readonly=True)
    outcome = fields.Selection(
        [
            ("open", "In Progress"),
            ("won", "Won"),
            ("lost", "Lost"),
            ("disqualified", "Disqualified"),
        ],
        readonly=True,
    )
    lost_reason_id = fields.Many2one("crm.lost.reason", string="Reason", readonly=True)
    lead_count = fields.Integer(string="Leads", readonly=True)
    qualification_rate = fields.Float(
        string="Qualification Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Leads that reached the team's qualification stage (or were won) ÷ all leads, "
        "disqualified ones included.",
    )
    disqualification_rate = fields.Float(
        string="Disqualification Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Disqualified leads ÷ all leads.",
    )
    win_rate = fields.Float(
        string="Win Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Won leads ÷ won and lost leads (disqualified and open leads left out).",
    )
    revenue_won = fields.Float(
        readonly=True,
        groups="sales_team.group_sale_salesman,crm_regulation.group_accountant",
    )
    first_contact_hours = fields.Float(
        string="First Contact (Business Hours)",
        aggregator="avg",
        readonly=True,
        help="Mean working hours of the team from the lead's creation to its first contact "
        "(leads contacted).",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            WITH ts AS (%(ts)s)
            SELECT l.id, l.id AS lead_id, l.create_date, l.team_id, l.user_id, l.company_id,
                   l.source_id, l.medium_id, l.campaign_id, l.outcome, l.lost_reason_id,
                   1 AS lead_count,
                   CASE WHEN %(qualified)s THEN 100.0 ELSE 0.0 END AS qualification_rate,
                   CASE WHEN l.outcome = 'disqualified' THEN 100.0 ELSE 0.0 END
                       AS disqualification_rate,
                   CASE WHEN l.outcome = 'won' THEN 100.0
                        WHEN l.outcome = 'lost' THEN 0.0 END AS win_rate,
                   CASE WHEN l.outcome = 'won' THEN l.expected_revenue ELSE 0 END
                       AS revenue_won,
                   l.first_contact_hours
              FROM crm_lead l
            """,
            ts=team_stages(),
            qualified=qualified("l"),
        )
