from datetime import date

from odoo.exceptions import AccessError
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import CrmRegulationCommon


class TestDataQuality(CrmRegulationCommon):
    """Data quality per salesperson on a small fixture, in the week of Monday 2 November
    2026 (Qualification requires an e-mail and an expected revenue; the team audits the
    regulation, so that incomplete leads can be entered):

    ====  =======  =============  ======================================  =============
    lead  owner    stage          data                                    quality
    ====  =======  =============  ======================================  =============
    A     Sasha    Qualification  e-mail, revenue, valid phone            good
    B     Sasha    Qualification  e-mail, no revenue                      incomplete
    C     Sasha    New            phone "12-ab"                           invalid phone
    D     Sasha    New            e-mail "not an e-mail"                  invalid e-mail
    E     Pavel    New            A's e-mail (A is older and open)        duplicate
    F     Pavel    New            nothing required                        good
    G     Sasha    New            created the week before                 good
    ====  =======  =============  ======================================  =============
    """

    WEEK = ("2026-11-02", "2026-11-08")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team.regulation_mode = "audit"
        cls.stage_qualification.required_field_ids = cls._field("email_from", "expected_revenue")
        cls.head = mail_new_test_user(
            cls.env,
            login="dq_head",
            name="Hanna Head",
            groups="crm_regulation.group_head_of_sales",
        )
        cls.team.user_id = cls.head
        cls.marketer = mail_new_test_user(
            cls.env,
            login="dq_marketer",
            name="Mila Marketer",
            groups="crm_regulation.group_marketer",
        )
        with cls.at(cls, "2026-10-27 09:00:00"):
            cls.G = cls._create_leads(1, name="G")
        with cls.at(cls, "2026-11-02 09:00:00"):
            sasha, pavel = cls.user_salesman, cls.user_salesman_2
            cls.A = cls._create_leads(
                1,
                name="A",
                stage=cls.stage_qualification,
                email_from="anna@example.com",
                expected_revenue=100,
                phone="+7 900 123-45-67",
            )
            cls.B = cls._create_leads(
                1, name="B", stage=cls.stage_qualification, email_from="boris@example.com"
            )
            cls.C = cls._create_leads(1, name="C", phone="12-ab")
            cls.D = cls._create_leads(1, name="D", email_from="not an e-mail")
            cls.E = cls._create_leads(1, user=pavel, name="E", email_from="anna@example.com")
            cls.F = cls._create_leads(1, user=pavel, name="F")
        cls.leads = cls.G | cls.A | cls.B | cls.C | cls.D | cls.E | cls.F
        cls.sasha = sasha

    def report(self, user=None, groupby=("user_id",), domain=()):
        Report = self.env["crm.data.quality.report"].with_user(user or self.user_manager)
        rows = Report._read_group(
            [("lead_id", "in", self.leads.ids), *domain],
            list(groupby),
            [
                "lead_count:sum",
                "incomplete_count:sum",
                "missing_count:sum",
                "invalid_phone_count:sum",
                "invalid_email_count:sum",
                "duplicate_count:sum",
                "good_count:sum",
                "data_quality:avg",
            ],
        )
        return {row[0]: tuple(row[len(groupby) :]) for row in rows}

    def kpi(self, user=None, period=None, **kwargs):
        team = self.team.with_user(user or self.user_manager)
        kpis = team.get_regulation_kpis(*(period or self.WEEK), **kwargs)
        return {kpi["code"]: kpi for kpi in kpis}.get("data_quality")

    def test_figures_per_salesperson(self):
        rows = self.report(domain=[("is_open", "=", True)])
        # leads, incomplete, missing fields, invalid phones, invalid e-mails, duplicates,
        # good, data quality (%)
        self.assertEqual(rows[self.user_salesman], (5, 1, 1, 1, 1, 0, 2, 40.0), "A, G good")
        self.assertEqual(rows[self.user_salesman_2], (2, 0, 0, 0, 0, 1, 1, 50.0), "E duplicate")
        by_team = self.report(groupby=("team_id",))
        self.assertEqual(by_team[self.team][0], 7)
        line = self.env["crm.data.quality.report"].search([("lead_id", "=", self.B.id)])
        self.assertEqual((line.required_count, line.missing_count, line.completeness), (2, 1, 50.0))
        self.assertEqual(line.created_by_id, self.user_salesman)

    def test_closed_and_older_leads(self):
        # the original lost: E is no duplicate of an open lead any more; A leaves the open
        # leads of the report
        self.A.action_set_lost(lost_reason_id=self.lost_reason.id)
        open_rows = self.report(domain=[("is_open", "=", True)])
        self.assertEqual(open_rows[self.user_salesman][0], 4)
        self.assertEqual(open_rows[self.user_salesman_2][5], 0, "E duplicates no open lead")
        # a later lead never makes an older one a duplicate
        self.assertEqual(self.report(domain=[("lead_id", "=", self.A.id)])[self.sasha][5], 0)

    def test_a_team_without_the_regulation_requires_nothing(self):
        self.team.regulation_mode = "off"
        rows = self.report()
        self.assertEqual(rows[self.user_salesman][1:3], (0, 0), "B complete: nothing required")

    def test_the_kpi_per_window_and_salesperson(self):
        kpi = self.kpi()
        self.assertEqual(kpi["value"], 33.3, "A and F of the week's six")
        self.assertEqual(kpi["base"], 6)
        self.assertEqual(kpi["previous"], 100.0, "G, the week before")
        self.assertEqual(kpi["unit"], "percent")
        self.assertEqual(kpi["better"], "up")
        self.assertIn("of 6 leads created in the period", kpi["denominator"])
        self.assertEqual(self.kpi(user_id=self.user_salesman.id)["value"], 25.0, "A of four")
        self.assertEqual(self.kpi(user_id=self.user_salesman_2.id)["value"], 50.0, "F of two")
        # the figure of the salesperson who moved most
        self.assertEqual(kpi["why"]["user_id"], self.user_salesman.id)
        empty = self.kpi(period=("2025-01-06", "2025-01-12"))
        self.assertTrue(empty["no_data"])
        # a plan of the team on the KPI
        self.env["crm.kpi.target"].create(
            {
                "kpi_code": "data_quality",
                "team_id": self.team.id,
                "period": "week",
                "date_start": "2026-11-02",
                "target": 80,
            }
        )
        with self.at("2026-11-08 12:00:00"):
            self.assertEqual(self.kpi()["plan"]["status"], "behind", "33 % for 80 %")

    def test_the_kpi_matches_the_report(self):
        rows = self.report(
            groupby=("team_id",),
            domain=[("create_date", ">=", "2026-11-02"), ("create_date", "<", "2026-11-09")],
        )
        self.assertAlmostEqual(rows[self.team][-1], 100 / 3)

    def test_each_role_sees_its_own(self):
        # a salesperson: their own rows and figure only
        own = self.report(user=self.user_salesman)
        self.assertEqual(set(own), {self.user_salesman})
        self.assertEqual(self.kpi(user=self.user_salesman)["value"], 25.0)
        peek = self.kpi(user=self.user_salesman, user_id=self.user_salesman_2.id)
        self.assertEqual(peek["base"], None, "nothing of a colleague's")
        # the head of sales: their team's
        head = self.report(user=self.head)
        self.assertEqual(set(head), {self.user_salesman, self.user_salesman_2})
        self.assertEqual(self.kpi(user=self.head)["value"], 33.3)
        # the marketer reads no contact data: no report, no figure
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule"),
        ):
            self.report(user=self.marketer)
        self.assertIsNone(self.kpi(user=self.marketer))

    def test_in_the_digests_like_any_kpi(self):
        digest = self.env["digest.digest"].create(
            {
                "name": "Data week",
                "periodicity": "weekly",
                "crm_regulation": True,
                "crm_team_ids": [(6, 0, self.team.ids)],
                "crm_kpi_ids": [(6, 0, self.env.ref("crm_regulation.kpi_data_quality").ids)],
                "user_ids": [(6, 0, (self.user_manager | self.user_salesman).ids)],
                "crm_active_since": "2026-11-02 00:00:00",
            }
        )
        lines = {}
        for user in (self.user_manager, self.user_salesman):
            with self.at("2026-11-09 10:00:00"):
                calendar = digest._crm_calendar(user)
                period = digest._crm_due_period(calendar, self.env.cr.now())
                content = digest.with_context(tz=calendar.tz)._crm_content(user, period)
            lines[user] = {line["code"]: line for line in content["sections"][0]["lines"]}
        self.assertEqual(list(lines[self.user_manager]), ["data_quality"])
        self.assertIn(
            "leads created in the period", lines[self.user_manager]["data_quality"]["denominator"]
        )
        # the week before, each recipient's own figure: the salesperson's leads only
        self.assertEqual((period.date_from, period.date_to), (date(2026, 11, 2), date(2026, 11, 8)))
        self.assertEqual(lines[self.user_manager]["data_quality"]["value"], 33.3)
        self.assertEqual(lines[self.user_salesman]["data_quality"]["value"], 25.0)

    def test_queries_do_not_grow_with_the_leads(self):
        """The report and the KPI are set-based: the same queries for 7 leads or 47."""
        team = self.team.with_user(self.user_manager)

        def figures():
            tree = team._kpi_tree()
            window = team._kpi_window(*self.WEEK)
            pipeline = team._kpi_pipeline(tree)
            team._kpi_figures([window], self.env["res.users"], tree, pipeline, {"data_quality"})

        def queries(call):
            call()  # warm the caches
            self.env.invalidate_all()
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            call()
            return self.env.cr.sql_log_count - before

        small = (queries(self.report), queries(figures))
        with self.at("2026-11-03 09:00:00"):
            self.leads |= self._create_leads(
                40, stage=self.stage_qualification, email_from="many@example.com"
            )
        self.assertEqual((queries(self.report), queries(figures)), small)
        self.assertEqual(self.kpi()["base"], 46)
        with self.query_count(1):
            self.env["crm.data.quality.report"].with_user(self.user_manager)._read_group(
                [("lead_id", "in", self.leads.ids)], ["user_id"], ["data_quality:avg"]
            )
