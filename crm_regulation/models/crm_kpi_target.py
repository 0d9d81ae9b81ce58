"""Plans: a target per KPI, team (and salesperson), period. Integrations write them over RPC
with these field names; the KPI engine compares them with the actual figures."""

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

# The KPI codes of the engine (crm.team.get_regulation_kpis), in the order it returns them.
KPI_CODES = [
    ("new_leads", "New leads"),
    ("first_contact_hours_median", "First contact (median business hours)"),
    ("qualification_rate", "Qualification rate"),
    ("disqualification_rate", "Disqualification rate"),
    ("loss_rate", "Loss rate"),
    ("win_rate", "Win rate"),
    ("stage_conversion", "Stage conversion"),
    ("stage_hours_median", "Time in stage (median business hours)"),
    ("cycle_days_median", "Sales cycle (median days)"),
    ("revenue_won", "Revenue won"),
    ("avg_deal_size", "Average deal size"),
    ("leads_in_work", "Leads in work"),
    ("activities_done", "Activities done"),
    ("sla_breached", "SLA breaches"),
    ("stale_leads", "Stale leads"),
    ("regulation_bypasses", "Regulation bypasses"),
    ("revived", "Revived leads"),
    ("revived_won", "Won after revival"),
    ("data_quality", "Data quality"),
]
PERIODS = [("week", "Week"), ("month", "Month"), ("quarter", "Quarter")]


def period_start(period, day):
    """The first day of the ``period`` (week: Monday) that contains ``day``."""
    if period == "week":
        return day - relativedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)


class CrmKpiTarget(models.Model):
    _name = "crm.kpi.target"
    _description = "Sales Plan (KPI Target)"
    _order = "date_start desc, team_id, user_id, kpi_code"

    kpi_code = fields.Selection(KPI_CODES, string="KPI", required=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", required=True, index=True)
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        index="btree_not_null",
        help="Empty: the plan of the whole team.",
    )
    period = fields.Selection(PERIODS, required=True, default="month")
    date_start = fields.Date(
        string="Period Start",
        required=True,
        help="Any day of the period: kept as its first day (a Monday for a week).",
    )
    date_end = fields.Date(
        string="Period End", compute="_compute_date_end", store=True, readonly=True
    )
    target = fields.Float(required=True)
    company_id = fields.Many2one(related="team_id.company_id", store=True)

    _plan_unique = models.Constraint(
        "UNIQUE (kpi_code, team_id, user_id, period, date_start)",
        "A team (or salesperson) has one target per KPI and period.",
    )

    @api.depends("period", "date_start")
    def _compute_date_end(self):
        for plan in self:
            if not plan.date_start or not plan.period:
                plan.date_end = False
                continue
            length = {
                "week": relativedelta(weeks=1),
                "month": relativedelta(months=1),
                "quarter": relativedelta(months=3),
            }[plan.period]
            plan.date_end = plan.date_start + length - relativedelta(days=1)

    @api.model_create_multi
    def create(self, vals_list):
        plans = super().create([self._normalized(vals) for vals in vals_list])
        plans._check_head_scope()
        return plans

    def write(self, vals):
        if "date_start" in vals or "period" in vals:
            for plan in self:  # (a period's first day depends on each plan's period)
                super(CrmKpiTarget, plan).write(self._normalized({"period": plan.period, **vals}))
            result = True
        else:
            result = super().write(vals)
        self._check_head_scope()  # (the team it was given)
        return result

    def _check_head_scope(self):
        """A head of sales (not a sales administrator) plans the teams of their tree only."""
        Users = self.env["res.users"]
        if self.env.su or not Users._crm_regulation_head_limited():
            return
        if not set(Users._crm_regulation_head_team_ids()).issuperset(self.team_id.ids):
            raise AccessError(
                self.env._("A head of sales plans their own teams and sub-teams only.")
            )

    @api.model
    def _normalized(self, vals):
        """The period's first day, whatever day of it is given."""
        if vals.get("date_start") and vals.get("period", "month") in dict(PERIODS):
            day = fields.Date.to_date(vals["date_start"])
            vals = {**vals, "date_start": period_start(vals.get("period", "month"), day)}
        return vals

    @api.constrains("target", "team_id", "user_id")
    def _check_target(self):
        for plan in self:
            if plan.target < 0:
                raise ValidationError(
                    self.env._("A plan's target cannot be negative (%s).", plan.target)
                )
            # sudo: the team's memberships, whoever enters the plan
            team = plan.team_id.sudo()
            if plan.user_id and plan.user_id not in (team.member_ids | team.user_id):
                raise ValidationError(
                    self.env._(
                        "%(user)s is not a member of the team %(team)s: plan them in their "
                        "own team.",
                        user=plan.user_id.name,
                        team=team.name,
                    )
                )
