import json
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..models.crm_kpi_target import KPI_CODES
from .test_kpi_engine import KpiFunnelCommon


class DashboardCommon(KpiFunnelCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # D is past its stage SLA: the first list of leads to act on
        cls.env.cr.execute(
            "UPDATE crm_lead SET sla_state = 'breached' WHERE id = %s", [cls.funnel["D"].id]
        )
        cls.funnel["D"].invalidate_recordset(["sla_state"])


class TestKpiDashboard(DashboardCommon):
    def test_funnel_fill_needs_leads_at_the_team_conversion(self):
        self.env["crm.kpi.target"].create(
            {
                "kpi_code": "revenue_won",
                "team_id": self.team.id,
                "period": "month",
                "date_start": "2026-11-01",
                "target": 5000,
            }
        )
        with self.at("2026-11-08 12:00:00"):
            fill = self.team.with_user(self.user_manager).get_regulation_funnel_fill()
        # 4,000 to go; over 90 days one win in two, 1,000 a deal: 500 a lead in work
        self.assertEqual(fill["remaining"], 4000)
        self.assertEqual(fill["win_rate"], 50.0)
        self.assertEqual(fill["avg_deal_size"], 1000)
        self.assertEqual(fill["leads_needed"], 8)
        self.assertEqual(fill["leads_in_work"], 3, "D, E, F")
        self.assertFalse(fill["enough"])
        self.assertEqual(self.team.get_regulation_funnel_fill("2026-12-15"), {"no_plan": True})

    def test_before_and_after_the_regulation_went_live(self):
        self.team.regulation_live_date = "2026-11-02"
        with self.at("2026-11-08 12:00:00"):
            rows = self.team.with_user(self.user_manager).get_regulation_before_after(weeks=1)
        new = next(row for row in rows if row["code"] == "new_leads")
        self.assertEqual((new["before"], new["after"]), (1, 5))
        self.assertTrue(new["improved"])
        self.assertNotIn("stage_conversion", {row["code"] for row in rows})
        with self.refused("1 to 52 weeks"):
            self.team.get_regulation_before_after(weeks=0)

    def test_live_date_set_when_the_team_first_enforces(self):
        team = self.env["crm.team"].create({"name": "Rolling out", "regulation_mode": "audit"})
        self.assertFalse(team.regulation_live_date)
        with self.at("2026-11-10 10:00:00"):
            team.regulation_mode = "enforce"
        self.assertEqual(str(team.regulation_live_date), "2026-11-10")
        team.regulation_mode = "audit"
        team.regulation_mode = "enforce"
        self.assertEqual(str(team.regulation_live_date), "2026-11-10", "the first time only")

    def test_more_than_five_headline_kpis_warns(self):
        kpis = self.env["crm.regulation.kpi"].search([], limit=6)
        self.assertEqual(
            len(self.env["crm.regulation.kpi"].search([])), len(KPI_CODES), "one per KPI code"
        )
        team = self.team.new({"dashboard_kpi_ids": [(6, 0, kpis[:5].ids)]})
        self.assertIsNone(team._onchange_dashboard_kpi_ids())
        team.dashboard_kpi_ids = kpis
        self.assertIn("no more than five", team._onchange_dashboard_kpi_ids()["warning"]["message"])
        self.team.dashboard_kpi_ids = kpis
        data = (
            self.env["crm.team"].with_user(self.user_manager).get_regulation_dashboard(self.team.id)
        )
        self.assertTrue(data["headline_warning"])
        self.assertEqual([kpi["code"] for kpi in data["headline"]], kpis.mapped("code"))

    def test_dashboard_lists_the_leads_to_act_on_under_the_users_rights(self):
        with self.at("2026-11-08 12:00:00"):
            data = (
                self.env["crm.team"]
                .with_user(self.user_manager)
                .get_regulation_dashboard(self.team.id, period="week")
            )
        self.assertEqual((data["date_from"], data["date_to"]), self.WEEK)
        self.assertEqual(
            [kpi["code"] for kpi in data["headline"]],
            [
                "new_leads",
                "first_contact_hours_median",
                "qualification_rate",
                "win_rate",
                "revenue_won",
            ],
        )
        self.assertEqual(data["actions"]["sla"]["count"], 1)
        self.assertEqual(data["actions"]["sla"]["leads"][0]["name"], "Funnel lead D")
        self.assertEqual(
            list(data["actions"]),
            ["sla", "at_risk", "stale", "qualification", "review", "no_activity"],
        )
        # the open leads without a next activity: D, E and F (the calls were done)
        self.assertEqual(
            {lead["name"] for lead in data["actions"]["no_activity"]["leads"]},
            {"Funnel lead D", "Funnel lead E", "Lead 0"},
        )
        self.assertEqual(
            len(data["funnel"]),
            len([s for s in self.team._kpi_pipeline(self.team._kpi_tree()) if not s.is_won]),
        )
        # Sasha sees the team as a member, and only their own leads and figures
        with self.at("2026-11-08 12:00:00"):
            own = (
                self.env["crm.team"]
                .with_user(self.user_salesman)
                .get_regulation_dashboard(period="week")
            )
        self.assertEqual(own["team"]["id"], self.team.id)
        self.assertEqual(own["actions"]["sla"]["count"], 0, "D is Pavel's")
        self.assertEqual(own["headline"][0]["value"], 3)
        with self.refused("week, a month or a quarter"):
            self.env["crm.team"].get_regulation_dashboard(self.team.id, period="year")
        with self.refused("given by its id"):
            self.env["crm.team"].get_regulation_dashboard("1; DROP TABLE crm_lead")
        with self.refused("two dates"):
            self.team.get_regulation_funnel_fill("tomorrow")


@tagged("post_install", "-at_install")
class TestSalesControlTour(DashboardCommon, HttpCase):
    def test_sales_control_dashboard(self):
        today = self.env.cr.now().date()
        # this month's funnel: two new leads, one qualified
        leads = self._create_leads(2, name="This month's lead")
        leads[0].with_user(self.user_salesman).stage_id = self.stage_qualification
        self.env["crm.kpi.target"].create(
            {
                "kpi_code": "new_leads",
                "team_id": self.team.id,
                "period": "month",
                "date_start": today,
                "target": 10,
            }
        )
        self.start_tour(
            "/odoo/action-crm_regulation.crm_regulation_sales_control_action",
            "crm_regulation_sales_control_tour",
            login="reg_manager",
        )


class TestRegulationLiveDate(DashboardCommon):
    def test_only_sales_administrators_correct_the_live_date(self):
        head = self.env["res.users"].create(
            {
                "name": "Hanna Head",
                "login": "kpi_head",
                "group_ids": [(6, 0, self.env.ref("crm_regulation.group_head_of_sales").ids)],
            }
        )
        self.team.user_id = head
        with self.assertRaises(AccessError):
            self.team.with_user(head).regulation_live_date = "2020-01-01"
        self.team.with_user(self.user_manager).regulation_live_date = "2026-10-01"
        with self.refused("goes live between", ValidationError):
            self.team.regulation_live_date = "1900-01-01"
        # the dashboard shows a head of sales their own teams only
        with self.refused("teams you lead or belong to"):
            self.env["crm.team"].with_user(head).get_regulation_dashboard(
                self.env.ref("sales_team.team_sales_department").id
            )

    def test_live_on_creation_when_the_company_enforces(self):
        self.company.crm_regulation_mode = "enforce"
        with self.at("2026-11-10 10:00:00"):
            team = self.env["crm.team"].create({"name": "Born enforcing"})
        self.assertEqual(team.regulation_mode, "enforce")
        self.assertEqual(str(team.regulation_live_date), "2026-11-10")


@tagged("post_install", "-at_install")
class TestKpiJson2(KpiFunnelCommon, HttpCase):
    """The KPI API as integrations call it: Odoo 19's JSON-2 with an API key, as each user."""

    def post(self, user, **params):
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope="rpc", name="kpi", expiration_date=datetime.now() + timedelta(days=1))
        )
        return self.url_open(
            "/json/2/crm.team/get_regulation_kpis",
            data=json.dumps({"ids": self.team.ids, **params}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )

    def test_kpis_over_json2_under_each_users_rights(self):
        week = {"date_from": self.WEEK[0], "date_to": self.WEEK[1]}
        for user, new_leads in ((self.user_manager, 5), (self.user_salesman, 3)):
            response = self.post(user, **week)
            self.assertEqual(response.status_code, 200, response.text)
            kpis = {kpi["code"]: kpi for kpi in response.json() if "key" not in kpi}
            self.assertEqual(kpis["new_leads"]["value"], new_leads, user.name)
            self.assertEqual(kpis["win_rate"]["denominator"][:4], "of 2")
        with mute_logger("odoo.http"):
            response = self.post(self.user_manager, date_from="2026-11-08", date_to="2026-11-02")
        self.assertEqual(response.status_code, 422, response.text)
        self.assertIn("before it starts", response.json()["message"])


class TestFunnelWhy(DashboardCommon):
    def test_the_stage_whose_conversion_dropped_most(self):
        # the week after: three leads enter New, one goes on (60 % → 33.3 %), through
        # Qualification (33.3 % → 100 %) to Presentation, where it stays (100 % → 0 %)
        with self.at("2026-11-09 09:00:00"):
            leads = self._create_leads(3, name="Next week")
        with self.at("2026-11-09 10:00:00"):
            leads[0].with_user(self.user_salesman).stage_id = self.stage_qualification
        with self.at("2026-11-09 11:00:00"):
            leads[0].with_user(self.user_salesman).stage_id = self.stage_presentation
        kpis = self.kpis(period=("2026-11-09", "2026-11-15"))
        why = self.team._kpi_funnel_why(list(kpis.values()))
        self.assertEqual(why["key"], self.stage_presentation.id)
        self.assertEqual((why["previous"], why["value"], why["points"]), (100.0, 0.0, 100.0))
        self.assertIn("Presentation → Proposal", why["name"])
        # nothing dropped: no why
        self.assertFalse(self.team._kpi_funnel_why(list(self.kpis().values())))
