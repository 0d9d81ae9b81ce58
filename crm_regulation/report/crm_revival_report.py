from odoo import fields, models
from odoo.tools import SQL

from ..models.crm_revival import ENROLLMENT_STATES


class CrmRevivalReport(models.Model):
    """The revival program's figures per program and step: one row per step run for an
    enrollment (one row for an enrollment that got no step yet). Each enrollment counts once
    as enrolled (on its first row), and its outcome (reply, revival, won after revival and
    its revenue) on the row of the last step it got: grouped by step, the figures say which
    step brought the customers back. No contact data: marketers read the figures."""

    _name = "crm.revival.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Revival Figures"
    _auto = False
    _order = "date desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.revival.enrollment": [
            "lead_id",
            "program_id",
            "owner_id",
            "state",
            "steps_done",
            "replied",
            "date_enrolled",
            "date_revived",
        ],
        "crm.revival.delivery": ["enrollment_id", "step_id", "position", "date"],
        "crm.lead": ["team_id", "company_id", "outcome", "date_closed", "expected_revenue"],
    }

    enrollment_id = fields.Many2one("crm.revival.enrollment", readonly=True)
    lead_id = fields.Many2one("crm.lead", readonly=True)
    program_id = fields.Many2one("crm.revival.program", readonly=True)
    step_id = fields.Many2one(
        "crm.revival.step",
        readonly=True,
        help="The step run (empty: enrolled, no step run yet). Replies, revivals and wins "
        "count on the last step the lead got.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Previous Owner", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Datetime(
        readonly=True, help="When the step ran (when the lead was enrolled: no step yet)."
    )
    date_enrolled = fields.Datetime(string="Enrolled On", readonly=True)
    state = fields.Selection(ENROLLMENT_STATES, readonly=True)
    enrolled_count = fields.Integer(string="Enrolled", readonly=True)
    sent_count = fields.Integer(string="Steps Run", readonly=True)
    replied_count = fields.Integer(string="Replies", readonly=True)
    revived_count = fields.Integer(string="Revived", readonly=True)
    won_count = fields.Integer(string="Won After Revival", readonly=True)
    revenue_won = fields.Float(
        string="Revenue After Revival",
        readonly=True,
        groups="sales_team.group_sale_salesman,crm_regulation.group_accountant",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT COALESCE(d.id * 2, e.id * 2 + 1) AS id, e.id AS enrollment_id, e.lead_id,
                   e.program_id, d.step_id, l.team_id, e.owner_id AS user_id, l.company_id,
                   COALESCE(d.date, e.date_enrolled) AS date, e.date_enrolled, e.state,
                   CASE WHEN d.id IS NULL OR d.position = 1 THEN 1 ELSE 0 END
                       AS enrolled_count,
                   CASE WHEN d.id IS NULL THEN 0 ELSE 1 END AS sent_count,
                   CASE WHEN o.last AND e.replied THEN 1 ELSE 0 END AS replied_count,
                   CASE WHEN o.last AND e.state = 'revived' THEN 1 ELSE 0 END AS revived_count,
                   CASE WHEN o.last AND o.won THEN 1 ELSE 0 END AS won_count,
                   CASE WHEN o.last AND o.won THEN l.expected_revenue ELSE 0 END AS revenue_won
              FROM crm_revival_enrollment e
              JOIN crm_lead l ON l.id = e.lead_id
              LEFT JOIN crm_revival_delivery d ON d.enrollment_id = e.id
             CROSS JOIN LATERAL (
                   SELECT d.id IS NULL OR d.position >= e.steps_done AS last,
                          e.state = 'revived' AND l.outcome = 'won'
                          AND l.date_closed >= e.date_revived AS won
             ) o
            """
        )
