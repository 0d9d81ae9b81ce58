from datetime import date

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import CrmRegulationCommon


class TestKpiTarget(CrmRegulationCommon):
    """Plans: a target per KPI, team (and salesperson) and period, with what is refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.head = mail_new_test_user(
            cls.env,
            login="plan_head",
            name="Plan Head",
            groups="crm_regulation.group_head_of_sales",
        )
        cls.team.user_id = cls.head
        cls.other_team = cls.env["crm.team"].create({"name": "Other"})
        cls.Plan = cls.env["crm.kpi.target"]

    def plan(self, **values):
        return self.Plan.create(
            {
                "kpi_code": "revenue_won",
                "team_id": self.team.id,
                "period": "month",
                "date_start": "2026-11-17",
                "target": 100000,
                **values,
            }
        )

    def test_a_period_starts_on_its_first_day(self):
        month = self.plan()
        self.assertEqual(
            (month.date_start, month.date_end), (date(2026, 11, 1), date(2026, 11, 30))
        )
        week = self.plan(period="week", kpi_code="new_leads")
        self.assertEqual((week.date_start, week.date_end), (date(2026, 11, 16), date(2026, 11, 22)))
        quarter = self.plan(period="quarter", kpi_code="win_rate")
        self.assertEqual(
            (quarter.date_start, quarter.date_end), (date(2026, 10, 1), date(2026, 12, 31))
        )
        quarter.date_start = "2027-02-14"
        self.assertEqual(quarter.date_start, date(2027, 1, 1))

    def test_bad_input_is_refused_at_save(self):
        with self.assertRaises(ValidationError):
            self.plan(target=-5)
        with self.assertRaises(ValueError):
            self.plan(kpi_code="happiness")
        with self.assertRaisesRegex(ValidationError, "not a member of the team"):
            self.plan(user_id=self.user_salesman.id, team_id=self.other_team.id)
        self.plan(user_id=self.user_salesman.id)  # a member: fine
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            with self.env.cr.savepoint():
                self.plan(user_id=self.user_salesman.id, date_start="2026-11-02")

    def test_heads_of_sales_plan_their_teams(self):
        Plan = self.Plan.with_user(self.head)
        plan = Plan.create(
            {
                "kpi_code": "new_leads",
                "team_id": self.team.id,
                "period": "week",
                "date_start": "2026-11-16",
                "target": 40,
            }
        )
        plan.target = 50
        with self.assertRaises(AccessError):
            plan.team_id = self.other_team
        with self.assertRaises(AccessError):
            Plan.create(
                {
                    "kpi_code": "new_leads",
                    "team_id": self.other_team.id,
                    "date_start": "2026-11-16",
                    "target": 40,
                }
            )
        # salespeople read the plans, never write them
        with self.assertRaises(AccessError):
            plan.with_user(self.user_salesman).target = 1
        self.assertEqual(plan.with_user(self.user_salesman).target, 50)
