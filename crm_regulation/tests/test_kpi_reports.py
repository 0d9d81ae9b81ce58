from odoo.exceptions import AccessError

from odoo.addons.mail.tests.common import mail_new_test_user

from .test_kpi_engine import KpiFunnelCommon


class TestKpiReports(KpiFunnelCommon):
    """The funnel report and the lead-source quality, on the hand-built funnel: the same
    figures as the KPI engine."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Source = cls.env["utm.source"]
        cls.website, cls.cold_call = Source.create([{"name": "Website"}, {"name": "Cold call"}])
        for name, source in (
            ("A", cls.website),
            ("B", cls.website),
            ("C", cls.cold_call),
            ("D", cls.cold_call),
            ("E", cls.cold_call),
        ):
            cls.funnel[name].source_id = source
        cls.marketer = mail_new_test_user(
            cls.env,
            login="kpi_marketer",
            name="Mila Marketer",
            groups="crm_regulation.group_marketer",
        )

    def test_funnel_report_gives_the_engines_conversion(self):
        Report = self.env["crm.regulation.funnel.report"].with_user(self.user_manager)
        domain = [
            ("team_id", "=", self.team.id),
            ("date_entered", ">=", "2026-11-02"),
            ("date_entered", "<", "2026-11-09"),
        ]
        rows = {
            stage: tuple(values)
            for stage, *values in Report._read_group(
                domain,
                ["stage_id"],
                [
                    "entered_count:sum",
                    "went_on_count:sum",
                    "lost_count:sum",
                    "disqualified_count:sum",
                    "still_there_count:sum",
                    "conversion:avg",
                ],
            )
        }
        self.assertEqual(rows[self.stage_new], (5, 3, 0, 1, 1, 60.0))
        self.assertEqual(rows[self.stage_qualification][:5], (3, 1, 1, 0, 1))
        self.assertAlmostEqual(rows[self.stage_qualification][5], 100 / 3)
        self.assertNotIn(self.stage_won, rows, "nothing after won")
        kpis = self.kpis()
        for stage in (self.stage_new, self.stage_qualification, self.stage_presentation):
            self.assertAlmostEqual(
                kpis["stage_conversion", stage.id]["value"], rows[stage][5], places=1
            )
        # a salesperson sees their own leads' entries only
        own = self.env["crm.regulation.funnel.report"].with_user(self.user_salesman)
        self.assertEqual(own.search_count([*domain, ("stage_id", "=", self.stage_new.id)]), 3)

    def test_source_quality(self):
        Report = self.env["crm.lead.source.report"].with_user(self.user_manager)
        rows = {
            source: values
            for source, *values in Report._read_group(
                [("team_id", "=", self.team.id), ("create_date", ">=", "2026-11-02")],
                ["source_id"],
                [
                    "lead_count:sum",
                    "qualification_rate:avg",
                    "disqualification_rate:avg",
                    "win_rate:avg",
                    "revenue_won:sum",
                    "first_contact_hours:avg",
                ],
            )
        }
        self.assertEqual(rows[self.website], [2, 100.0, 0.0, 50.0, 1000.0, 2.75])
        count, qualification, disqualification, win, revenue, contact = rows[self.cold_call]
        self.assertEqual((count, win, revenue, contact), (3, False, 0.0, False))
        self.assertAlmostEqual(qualification, 100 / 3, msg="D of C, D, E")
        self.assertAlmostEqual(disqualification, 100 / 3, msg="C")
        reasons = Report._read_group(
            [("outcome", "=", "disqualified"), ("team_id", "=", self.team.id)],
            ["source_id", "lost_reason_id"],
            ["lead_count:sum"],
        )
        self.assertEqual(reasons, [(self.cold_call, self.disqualification, 1)])

    def test_marketer_reads_source_figures_without_revenue_or_contacts(self):
        Report = self.env["crm.lead.source.report"].with_user(self.marketer)
        groups = Report._read_group(
            [("team_id", "=", self.team.id), ("create_date", ">=", "2026-11-02")],
            ["source_id"],
            ["lead_count:sum", "win_rate:avg"],
        )
        self.assertEqual(
            {source: count for source, count, _win in groups}, {self.website: 2, self.cold_call: 3}
        )
        with self.assertRaises(AccessError):
            Report._read_group([], [], ["revenue_won:sum"])
        self.assertFalse(
            {"email_from", "phone", "partner_id", "contact_name"} & set(Report._fields),
            "no contact data in the report",
        )
        # the KPI engine leaves the revenue out for them, and counts every lead
        kpis = self.kpis(user=self.marketer)
        self.assertEqual(kpis["new_leads", None]["value"], 5)
        self.assertFalse({("revenue_won", None), ("avg_deal_size", None)} & set(kpis))
        self.assertIn(("revenue_won", None), self.kpis())
