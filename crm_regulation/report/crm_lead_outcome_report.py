from odoo import fields, models
from odoo.tools import SQL


class CrmLeadOutcomeReport(models.Model):
    """Closed leads (won, lost, disqualified), one row each, with the rates of their
    salesperson and team in the month they were closed: disqualification vs loss per
    salesperson, reasons, and the salespeople whose disqualification rate is far above
    their team's (anti-gaming)."""

    _name = "crm.lead.outcome.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Outcome Analysis (Disqualification vs Loss)"
    _auto = False
    _order = "date_closed desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.lead": [
            "date_closed",
            "user_id",
            "team_id",
            "company_id",
            "lost_reason_id",
            "outcome",
        ],
        "crm.team": ["disqualification_alert_points", "disqualification_alert_min_leads"],
    }

    lead_id = fields.Many2one("crm.lead", readonly=True)
    date_closed = fields.Datetime(string="Closed On", readonly=True)
    period = fields.Date(string="Month", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    lost_reason_id = fields.Many2one("crm.lost.reason", string="Reason", readonly=True)
    outcome = fields.Selection(
        [("won", "Won"), ("lost", "Lost"), ("disqualified", "Disqualified")], readonly=True
    )
    closed_count = fields.Integer(string="Closed Leads", readonly=True)
    won_count = fields.Integer(string="Won", readonly=True)
    lost_count = fields.Integer(string="Lost", readonly=True)
    disqualified_count = fields.Integer(string="Disqualified", readonly=True)
    disqualification_rate = fields.Float(
        string="Disqualification Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Disqualified leads / closed leads (won, lost and disqualified).",
    )
    loss_rate = fields.Float(
        string="Loss Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Lost leads / closed leads (won, lost and disqualified).",
    )
    win_rate = fields.Float(
        string="Win Rate (%)",
        aggregator="avg",
        readonly=True,
        help="Won leads / closed leads (won, lost and disqualified).",
    )
    qualified_win_rate = fields.Float(
        string="Win Rate without Disqualified (%)",
        aggregator="avg",
        readonly=True,
        help="Won leads / won and lost leads: disqualified leads are left out.",
    )
    team_disqualification_rate = fields.Float(
        string="Team's Disqualification Rate in the Month (%)",
        aggregator="avg",
        readonly=True,
    )
    user_disqualification_rate = fields.Float(
        string="Salesperson's Disqualification Rate in the Month (%)",
        aggregator="avg",
        readonly=True,
    )
    flagged = fields.Boolean(
        string="Disqualifies Far More than the Team",
        readonly=True,
        help="In the month, the salesperson's disqualification rate is above the team's by "
        "more than the team's alert threshold, over at least the team's minimum number of "
        "closed leads.",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            WITH closed AS (
                SELECT l.id, l.date_closed, l.user_id, l.team_id, l.company_id,
                       l.lost_reason_id, l.outcome,
                       date_trunc('month', l.date_closed)::date AS period,
                       CASE WHEN l.outcome = 'disqualified' THEN 100.0 ELSE 0.0 END AS dq
                  FROM crm_lead l
                 WHERE l.outcome IN ('won', 'lost', 'disqualified')
                   AND l.date_closed IS NOT NULL
            ), rates AS (
                SELECT c.*,
                       avg(c.dq) OVER (PARTITION BY c.team_id, c.period) AS team_rate,
                       avg(c.dq) OVER (PARTITION BY c.team_id, c.user_id, c.period) AS user_rate,
                       count(*) OVER (PARTITION BY c.team_id, c.user_id, c.period) AS user_closed
                  FROM closed c
            )
            SELECT r.id, r.id AS lead_id, r.date_closed, r.period, r.user_id, r.team_id,
                   r.company_id, r.lost_reason_id, r.outcome,
                   1 AS closed_count,
                   (r.outcome = 'won')::int AS won_count,
                   (r.outcome = 'lost')::int AS lost_count,
                   (r.outcome = 'disqualified')::int AS disqualified_count,
                   r.dq AS disqualification_rate,
                   CASE WHEN r.outcome = 'lost' THEN 100.0 ELSE 0.0 END AS loss_rate,
                   CASE WHEN r.outcome = 'won' THEN 100.0 ELSE 0.0 END AS win_rate,
                   CASE WHEN r.outcome = 'won' THEN 100.0
                        WHEN r.outcome = 'lost' THEN 0.0 END AS qualified_win_rate,
                   r.team_rate AS team_disqualification_rate,
                   r.user_rate AS user_disqualification_rate,
                   (r.user_id IS NOT NULL AND t.id IS NOT NULL
                    AND r.user_closed >= t.disqualification_alert_min_leads
                    AND r.user_rate - r.team_rate > t.disqualification_alert_points) AS flagged
              FROM rates r
              LEFT JOIN crm_team t ON t.id = r.team_id
            """
        )
