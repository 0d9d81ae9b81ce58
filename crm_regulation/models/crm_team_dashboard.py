"""The head of sales' dashboard (*CRM > Reporting > Sales Control*): what the OWL client
action shows, in one call, from the KPI engine and the leads to act on, under the caller's
rights."""

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .crm_kpi_target import period_start
from .crm_team_kpi import HEADLINE_DEFAULT, HEADLINE_MAX

# The leads to act on, each a list of the dashboard: (key, domain on leads, active_test)
ACTION_LISTS = (
    ("sla", [("sla_state", "=", "breached")], True),
    ("at_risk", [("sla_state", "=", "at_risk")], True),
    ("stale", [("stale_date", "!=", False), ("outcome", "=", "open")], True),
    ("qualification", [("qualification_state", "=", "overdue")], True),
    ("review", [("loss_review_state", "=", "to_review")], False),
    ("no_activity", [("activity_ids", "=", False), ("outcome", "=", "open")], True),
)
# Leads shown per list (the rest: "and N more", the filtered list)
ACTION_LIMIT = 5


def todo_labels(env):
    """{list key: its title}"""
    return {
        "sla": env._("SLA breached"),
        "at_risk": env._("SLA at risk"),
        "stale": env._("Forgotten (stale)"),
        "qualification": env._("Not qualified in time"),
        "review": env._("Losses waiting for review"),
        "no_activity": env._("No next activity"),
    }


PERIOD_LENGTHS = {
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
}


class CrmTeamDashboard(models.Model):
    _inherit = "crm.team"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def get_regulation_dashboard(self, team_id=False, period="month"):
        """Everything the Sales Control dashboard shows for ``team_id`` (the first team the
        caller leads, or belongs to, when empty) over the current ``period`` (week, month
        or quarter)."""
        if not isinstance(period, str) or period not in PERIOD_LENGTHS:
            raise UserError(self.env._("A period is a week, a month or a quarter."))
        if team_id and (not isinstance(team_id, int) or isinstance(team_id, bool)):
            raise UserError(self.env._("A sales team is given by its id."))
        teams = self.search(self._dashboard_teams_domain())
        # (by default the first team the user leads)
        led = teams.filtered(lambda team: team.user_id == self.env.user)
        team = self.browse(team_id) if team_id else (led or teams)[:1]
        if team_id and team not in teams:
            raise UserError(self.env._("Sales Control shows the teams you lead or belong to."))
        if not team:
            return {"teams": [], "team": False}
        team.check_access("read")
        today = fields.Date.context_today(self)
        date_from = period_start(period, today)
        date_to = date_from + PERIOD_LENGTHS[period] - relativedelta(days=1)
        # one pass of the figures for the period, the plans and the funnel fill (the weeks
        # before and after the regulation went live come after the first paint:
        # get_regulation_before_after)
        fill = team._kpi_fill_windows(today)
        kpis, figures = team._kpi_report(
            team._kpi_window(date_from, date_to), self.env["res.users"], fill[1:] if fill else ()
        )
        headline = team.dashboard_kpi_ids.mapped("code") or list(HEADLINE_DEFAULT)
        return {
            "teams": [{"id": t.id, "name": t.display_name} for t in teams],
            "team": {"id": team.id, "name": team.display_name},
            "period": period,
            "date_from": fields.Date.to_string(date_from),
            "date_to": fields.Date.to_string(date_to),
            "currency": (team.company_id or self.env.company).currency_id.symbol or "",
            "headline": [kpi for code in headline for kpi in kpis if kpi["code"] == code],
            "headline_warning": len(headline) > HEADLINE_MAX,
            "funnel": [kpi for kpi in kpis if kpi["code"] == "stage_conversion"],
            "funnel_why": team._kpi_funnel_why(kpis),
            "plans": [kpi for kpi in kpis if kpi.get("plan")],
            "funnel_fill": team._kpi_fill_result(fill, figures) if fill else {"no_plan": True},
            "actions": team._dashboard_actions(),
        }

    @api.model
    def _dashboard_teams_domain(self):
        """The teams a user steers: those they lead or belong to and their sub-teams, all for
        a sales manager."""
        if self.env.user.has_group("sales_team.group_sale_manager"):
            return []
        return [("id", "in", self.env["res.users"]._crm_regulation_scope().subteam_ids)]

    def _dashboard_actions(self, user=None, limit=ACTION_LIMIT):
        """The leads to act on, per list: {key: {count, leads: [{id, name, user}], domain}}
        (``user``: that salesperson's leads only). Two queries per list whatever its size:
        the first ``limit`` leads, and the count when there are more."""
        Lead = self.env["crm.lead"]
        result = {}
        for key, domain, active_test in self._regulation_todo_domains(user):
            Leads = Lead.with_context(active_test=active_test)
            leads = Leads.search_fetch(domain, ["name", "user_id"], limit=limit, order="id")
            count = len(leads)
            if count == limit:
                count = Leads.search_count(domain)
            result[key] = {
                "count": count,
                "leads": [
                    {"id": lead.id, "name": lead.display_name, "user": lead.user_id.name or ""}
                    for lead in leads
                ],
                "domain": domain,
                "active_test": active_test,
            }
        return result

    def _regulation_todo_domains(self, user=None):
        """[(key, domain, active_test)] of the lists of leads to act on in the team and its
        sub-teams (``user``: their leads only)."""
        self.ensure_one()
        scope = [("team_id", "child_of", self.id)]
        if user:
            scope.append(("user_id", "=", user.id))
        return [(key, scope + condition, active) for key, condition, active in ACTION_LISTS]

    @api.model
    def _regulation_todo_action(self, key):
        """The filtered list of one list of leads to act on (the digests' "and N more" link:
        /odoo/<team id>/action-crm_regulation.action_crm_lead_todo_<key>): the team's leads,
        only the caller's own when they are a salesperson of it."""
        team_id = self.env.context.get("active_id")
        valid = isinstance(team_id, int) and not isinstance(team_id, bool)
        team = self.browse(team_id if valid else ()).exists()
        if not team or not team.has_access("read"):
            raise UserError(self.env._("This list belongs to a sales team you cannot open."))
        user = team._digest_own_figures_user(self.env.user)
        lists = {entry[0]: entry for entry in team._regulation_todo_domains(user)}
        if key not in lists:
            raise UserError(self.env._("This list of leads to act on no longer exists."))
        _key, domain, active_test = lists[key]
        action = self.env["ir.actions.act_window"]._for_xml_id("crm.crm_lead_all_leads")
        action.update(
            {
                "name": self.env._(
                    "%(list)s: %(team)s", list=todo_labels(self.env)[key], team=team.display_name
                ),
                "domain": domain,
                "context": {"active_test": active_test, "create": False},
                "views": [(False, "list"), (False, "kanban"), (False, "form")],
                "view_mode": "list,kanban,form",
            }
        )
        return action

    def _digest_own_figures_user(self, user):
        """The salesperson whose own figures and leads ``user`` gets for this team: themselves
        when they are a member of it (or of a sub-team) without leading it or being a head of
        sales; else nobody (the team's figures, under their rights)."""
        self.ensure_one()
        if user.has_group("crm_regulation.group_head_of_sales") or user.has_group(
            "sales_team.group_sale_manager"
        ):
            return self.env["res.users"]
        # sudo: the memberships of the whole team tree (``_kpi_tree``), to know whose figures
        # the user gets
        tree = self.sudo()._kpi_tree()
        if user in tree.user_id:
            return self.env["res.users"]
        return user if user in tree.member_ids else user.browse()
