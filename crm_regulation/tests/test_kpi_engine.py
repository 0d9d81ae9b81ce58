from odoo.exceptions import AccessError

from .common import CrmRegulationCommon


class KpiFunnelCommon(CrmRegulationCommon):
    """A small funnel built by hand, move by move, in the week of Monday 2 November 2026
    (the team works 9-13 and 14-18 UTC, Monday to Friday):

    ====  =========  =================================================================
    lead  owner      story
    ====  =========  =================================================================
    A     Sasha      New 09:00 → Qualification 11:00 → Presentation Tue 10:00 → Won Wed
                     10:00 (1,000); call done Mon 10:00
    B     Sasha      New 09:00 → Qualification 13:00 → lost Tue 12:00; call Mon 14:30
    C     Sasha      New 09:00 → disqualified 12:00
    D     Pavel      New 09:00 → Qualification Tue 09:00, still there (500)
    E     Pavel      New 09:00, still there
    F     Sasha      created in the previous week (Tue 27 October), still in New
    ====  =========  =================================================================
    """

    WEEK = ("2026-11-02", "2026-11-08")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team.write(
            {
                "resource_calendar_id": cls._calendar("Sales hours", "UTC", ((9, 13), (14, 18))).id,
                # (Odoo's own stages, of no team, come first in every team's pipeline)
                "qualification_stage_id": cls.stage_qualification.id,
            }
        )
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.company.crm_first_contact_activity_type_ids = cls.call
        Reason = cls.env["crm.lost.reason"]
        cls.loss = Reason.search([("category", "=", "loss")], limit=1)
        cls.disqualification = Reason.search(
            [("category", "=", "disqualification"), ("requires_duplicate_of", "=", False)],
            limit=1,
        )
        cls.funnel = cls._build_funnel()

    @classmethod
    def _at(cls, when):
        return cls.at(cls, when)

    @classmethod
    def _build_funnel(cls):
        leads = {}
        with cls._at("2026-10-27 09:00:00"):
            leads["F"] = cls._create_leads(1)
        with cls._at("2026-11-02 09:00:00"):
            for name, user, revenue in (
                ("A", cls.user_salesman, 1000),
                ("B", cls.user_salesman, 0),
                ("C", cls.user_salesman, 0),
                ("D", cls.user_salesman_2, 500),
                ("E", cls.user_salesman_2, 0),
            ):
                leads[name] = cls._create_leads(
                    1, user=user, expected_revenue=revenue, name=f"Funnel lead {name}"
                )
        for when, name, change in (
            ("2026-11-02 10:00:00", "A", "call"),
            ("2026-11-02 11:00:00", "A", cls.stage_qualification),
            ("2026-11-02 12:00:00", "C", cls.disqualification),
            ("2026-11-02 13:00:00", "B", cls.stage_qualification),
            ("2026-11-02 14:30:00", "B", "call"),
            ("2026-11-03 09:00:00", "D", cls.stage_qualification),
            ("2026-11-03 10:00:00", "A", cls.stage_presentation),
            ("2026-11-03 12:00:00", "B", cls.loss),
            ("2026-11-04 10:00:00", "A", cls.stage_won),
        ):
            lead = leads[name].with_user(leads[name].user_id)
            with cls._at(when):
                if isinstance(change, str):
                    lead.activity_schedule(
                        activity_type_id=cls.call.id, user_id=lead.user_id.id
                    ).action_done()
                elif change._name == "crm.lost.reason":
                    lead.write({"lost_feedback": "<p>Closed in the test funnel</p>"})
                    lead.action_set_lost(lost_reason_id=change.id)
                else:
                    lead.stage_id = change
        return leads

    def kpis(self, user=None, team=None, period=None, **kwargs):
        team = (team or self.team).with_user(user or self.user_manager)
        result = team.get_regulation_kpis(*(period or self.WEEK), **kwargs)
        return {(kpi["code"], kpi.get("key")): kpi for kpi in result}


class TestKpiEngine(KpiFunnelCommon):
    def test_every_kpi_of_the_hand_built_funnel(self):
        kpis = self.kpis()

        def value(code, key=None):
            return kpis[code, key]["value"]

        self.assertEqual(value("new_leads"), 5)
        self.assertEqual(kpis["new_leads", None]["previous"], 1, "F, the week before")
        self.assertEqual(value("qualification_rate"), 60.0, "A, B, D of five")
        self.assertEqual(kpis["qualification_rate", None]["base"], 5)
        self.assertEqual(value("disqualification_rate"), 20.0)
        # why: the salesperson whose figure moved most (Sasha: A, B of A, B, C, against F
        # not qualified the week before; Pavel: D of D, E)
        self.assertEqual(
            kpis["qualification_rate", None]["why"],
            {
                "user_id": self.user_salesman.id,
                "name": "Sasha Salesman",
                "value": 66.7,
                "previous": 0.0,
                "change": 66.7,
            },
        )
        # A: 1 h; B: 4 h before lunch + 30 min after
        self.assertEqual(value("first_contact_hours_median"), 2.8)
        self.assertEqual(kpis["first_contact_hours_median", None]["base"], 2)
        self.assertEqual(value("win_rate"), 50.0, "A won, B lost, C disqualified left out")
        self.assertEqual(kpis["win_rate", None]["base"], 2)
        self.assertEqual(value("loss_rate"), 50.0)
        self.assertEqual(value("revenue_won"), 1000)
        self.assertEqual(value("avg_deal_size"), 1000)
        self.assertEqual(value("cycle_days_median"), 2.0)
        # New → Qualification: five entered, three went on, C disqualified, E still there
        new = kpis["stage_conversion", self.stage_new.id]
        self.assertEqual(new["value"], 60.0)
        self.assertEqual(
            new["details"],
            [{"entered": 5, "went_on": 3, "lost": 0, "disqualified": 1, "still_there": 1}],
        )
        self.assertIn("New Lead → Qualification", new["name"])
        qualification = kpis["stage_conversion", self.stage_qualification.id]
        self.assertEqual(qualification["value"], 33.3)
        self.assertEqual(
            qualification["details"],
            [{"entered": 3, "went_on": 1, "lost": 1, "disqualified": 0, "still_there": 1}],
        )
        # A skipped Proposal..Contract to Won: it went on from Presentation
        self.assertEqual(value("stage_conversion", self.stage_presentation.id), 100.0)
        proposal = kpis["stage_conversion", self.stage_proposal.id]
        self.assertTrue(proposal["no_data"])
        self.assertIn("no data", proposal["denominator"])
        self.assertNotIn(("stage_conversion", self.stage_won.id), kpis, "nothing after won")
        # time in New: A 2 h, B 4 h, C 3 h, D 8 h (Monday's working day); E still there
        self.assertEqual(value("stage_hours_median", self.stage_new.id), 3.5)
        self.assertEqual(kpis["stage_hours_median", self.stage_new.id]["base"], 4)
        in_work = kpis["leads_in_work", None]
        self.assertEqual(in_work["value"], 3, "D, E and F at the end of the week")
        self.assertEqual(
            {(d["id"], d["value"]) for d in in_work["details"]},
            {(self.user_salesman.id, 1), (self.user_salesman_2.id, 2)},
        )
        self.assertEqual(in_work["previous"], 1, "F at the end of the week before")
        activities = kpis["activities_done", None]
        self.assertEqual(activities["value"], 2)
        self.assertEqual(activities["details"][0]["id"], self.call.id)
        for code in ("sla_breached", "stale_leads", "regulation_bypasses"):
            self.assertEqual(value(code), 0)
            self.assertTrue(kpis[code, None]["no_data"], code)
        self.assertEqual(
            [kpi["code"] for kpi in self.kpis().values()][:6],
            [
                "new_leads",
                "first_contact_hours_median",
                "qualification_rate",
                "disqualification_rate",
                "loss_rate",
                "win_rate",
            ],
        )

    def test_a_salesperson_gets_their_own_figures(self):
        own = self.kpis(user=self.user_salesman)
        self.assertEqual(own["new_leads", None]["value"], 3, "A, B, C: not Pavel's D and E")
        self.assertEqual(own["leads_in_work", None]["value"], 1, "F")
        self.assertEqual(own["win_rate", None]["value"], 50.0)
        # the head of sales asks for one salesperson
        pavel = self.kpis(user_id=self.user_salesman_2.id)
        self.assertEqual(pavel["new_leads", None]["value"], 2)
        self.assertEqual(pavel["qualification_rate", None]["value"], 50.0)
        self.assertEqual(pavel["activities_done", None]["value"], 0)
        self.assertTrue(pavel["win_rate", None]["no_data"])
        # a salesperson asking for a colleague gets what they may read of them: nothing
        peek = self.kpis(user=self.user_salesman, user_id=self.user_salesman_2.id)
        self.assertEqual(peek["new_leads", None]["value"], 0)

    def test_an_empty_period_gives_zeros_with_no_data(self):
        kpis = self.kpis(period=("2025-01-06", "2025-01-12"))
        for (code, _key), kpi in kpis.items():
            self.assertEqual(kpi["value"], 0, code)
            self.assertTrue(kpi["no_data"], code)
            self.assertIn("no data", kpi["denominator"], code)

    def test_bad_periods_are_refused(self):
        with self.refused("before it starts"):
            self.kpis(period=("2026-11-08", "2026-11-02"))
        with self.refused("at most two years"):
            self.kpis(period=("2024-01-01", "2026-11-02"))
        with self.refused("two dates"):
            self.kpis(period=("yesterday", "2026-11-02"))
        with self.refused("not a member"):
            self.kpis(user_id=self.env.ref("base.user_admin").id)

    def test_plans_vs_actual(self):
        Target = self.env["crm.kpi.target"]
        Target.create(
            [
                {
                    "kpi_code": "new_leads",
                    "team_id": self.team.id,
                    "period": "month",
                    "date_start": "2026-11-01",
                    "target": 20,
                },
                {
                    "kpi_code": "win_rate",
                    "team_id": self.team.id,
                    "period": "week",
                    "date_start": "2026-11-02",
                    "target": 40,
                },
                {
                    "kpi_code": "first_contact_hours_median",
                    "team_id": self.team.id,
                    "period": "week",
                    "date_start": "2026-11-02",
                    "target": 2,
                },
            ]
        )
        with self.at("2026-11-08 12:00:00"):
            kpis = self.kpis()
        new = kpis["new_leads", None]
        # the month's plan, to date: 5 new leads of 20 after 8 days of 30
        self.assertEqual(new["target"], 20)
        self.assertEqual(new["target_share"], 0.25)
        self.assertEqual(new["plan"]["elapsed_share"], round(8 / 30, 4))
        self.assertEqual(new["plan"]["status"], "at_risk", "25% done, 27% of the month gone")
        self.assertEqual(kpis["win_rate", None]["plan"]["status"], "on_track", "50% ≥ 40%")
        first_contact = kpis["first_contact_hours_median", None]
        self.assertEqual(
            first_contact["plan"]["status"], "behind", "2.8 h for 2 h: lower is better"
        )
        self.assertFalse(kpis["revenue_won", None]["target"], "no plan")
        # a rate with nothing to count yet is neither on track nor behind
        Target.create(
            [
                {
                    "kpi_code": code,
                    "team_id": self.team.id,
                    "period": "month",
                    "date_start": "2026-12-01",
                    "target": 40,
                }
                for code in ("win_rate", "new_leads")
            ]
        )
        with self.at("2026-12-02 12:00:00"):
            december = self.kpis(period=("2026-12-01", "2026-12-31"))
        self.assertEqual(december["win_rate", None]["plan"]["status"], "no_data")
        self.assertEqual(december["new_leads", None]["plan"]["status"], "behind", "none yet")

    def test_figures_are_set_based(self):
        """The whole set costs the same number of queries for 5 leads or 50 (one statement
        per family of figures, JIT off for them and back as it was)."""
        self.kpis()
        with self.query_count(14):
            self.kpis()
        self.env.cr.execute("SHOW jit")
        self.assertEqual(self.env.cr.fetchone()[0], "on", "as it was")
        self._create_leads(45)
        self.env.invalidate_all()
        self.kpis()
        with self.query_count(14):
            self.kpis()

    def test_rpc_needs_team_read_access(self):
        portal = self.env["res.users"].create(
            {
                "name": "Portal",
                "login": "kpi_portal",
                "group_ids": [(6, 0, self.env.ref("base.group_portal").ids)],
            }
        )
        with self.assertRaises(AccessError):
            self.kpis(user=portal)
        # an employee without the CRM: the team is readable, its leads are not
        employee = self.env["res.users"].create(
            {
                "name": "Employee",
                "login": "kpi_employee",
                "group_ids": [(6, 0, self.env.ref("base.group_user").ids)],
            }
        )
        with self.assertRaises(AccessError):
            self.kpis(user=employee)

    def test_a_lead_moved_back_did_not_go_on(self):
        with self.at("2026-11-16 09:00:00"):
            lead = self._create_leads(1, name="Back and forth")
        for when, stage in (
            ("2026-11-16 10:00:00", self.stage_qualification),
            ("2026-11-16 11:00:00", self.stage_presentation),
            ("2026-11-16 12:00:00", self.stage_qualification),
        ):
            with self.at(when):
                lead.with_user(self.user_salesman).stage_id = stage
        kpis = self.kpis(period=("2026-11-16", "2026-11-22"))
        qualification = kpis["stage_conversion", self.stage_qualification.id]
        self.assertEqual(qualification["details"][0]["went_on"], 1, "it reached Presentation")
        # the funnel report agrees, and counts the first entry only
        rows = self.env["crm.regulation.funnel.report"].search(
            [("lead_id", "=", lead.id), ("stage_id", "=", self.stage_qualification.id)]
        )
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows.went_on_count, 1)

    def test_plans_are_read_within_the_teams(self):
        other_team = self.env["crm.team"].create({"name": "Other team"})
        Target = self.env["crm.kpi.target"]
        plans = Target.create(
            [
                {"kpi_code": "new_leads", "team_id": self.team.id, "period": "month",
                 "date_start": "2026-11-01", "target": 10},
                {"kpi_code": "new_leads", "team_id": self.team.id, "period": "month",
                 "user_id": self.user_salesman_2.id, "date_start": "2026-11-01", "target": 4},
                {"kpi_code": "new_leads", "team_id": other_team.id, "period": "month",
                 "date_start": "2026-11-01", "target": 99},
            ]
        )  # fmt: skip
        seen = Target.with_user(self.user_salesman).search([("id", "in", plans.ids)])
        self.assertEqual(seen, plans[0], "the team's plan, not a colleague's nor another team's")
        self.assertEqual(
            Target.with_user(self.user_manager).search([("id", "in", plans.ids)]), plans
        )
        peek = self.kpis(user=self.user_salesman, user_id=self.user_salesman_2.id)
        self.assertFalse(peek["new_leads", None]["target"], "a colleague's plan stays theirs")

    def test_roles_without_the_stage_history_get_no_stay_figures(self):
        marketer = self.env["res.users"].create(
            {
                "name": "Mila",
                "login": "kpi_engine_marketer",
                "group_ids": [(6, 0, self.env.ref("crm_regulation.group_marketer").ids)],
            }
        )
        kpis = self.kpis(user=marketer)
        self.assertEqual(kpis["new_leads", None]["value"], 5)
        self.assertFalse({code for code, _key in kpis} & {"stage_conversion", "sla_breached"})

    def test_sla_stale_and_bypass_figures(self):
        """The three counts with something to count: a first stay past its SLA, a lead gone
        stale, a bypass in the compliance log (the week's, not the one before)."""
        A, E = self.funnel["A"], self.funnel["E"]
        self.env.cr.execute(
            """UPDATE crm_lead_stage_history SET sla_deadline = date_in + interval '1 hour',
                      sla_breached = (lead_id = %s)
                WHERE lead_id IN %s AND stage_id = %s""",
            [A.id, (A.id, self.funnel["B"].id), self.stage_new.id],
        )
        self.env.cr.execute(
            "UPDATE crm_lead SET stale_date = '2026-11-06 10:00:00' WHERE id = %s", [E.id]
        )
        self.env.cr.execute(
            """INSERT INTO crm_regulation_violation
                      (date, lead_id, lead_name, team_id, user_id, requirement, mode, outcome,
                       path, source)
               VALUES ('2026-11-03 10:00:00', %s, %s, %s, %s, 'Proposal needs a budget',
                       'enforce', 'bypassed', 'ui', 'rule'),
                      ('2026-10-30 10:00:00', %s, %s, %s, %s, 'Proposal needs a budget',
                       'enforce', 'bypassed', 'ui', 'rule')""",
            [A.id, A.name, self.team.id, self.user_salesman.id] * 2,
        )
        self.env.invalidate_all()
        kpis = self.kpis()
        self.assertEqual(kpis["sla_breached", None]["value"], 1)
        self.assertEqual(kpis["sla_breached", None]["base"], 2, "A and B had an SLA in New")
        self.assertEqual(kpis["stale_leads", None]["value"], 1)
        self.assertEqual(kpis["regulation_bypasses", None]["value"], 1)
        self.assertEqual(kpis["regulation_bypasses", None]["previous"], 1)
        # a salesperson does not read the compliance log: no bypass figure for them
        self.assertNotIn(("regulation_bypasses", None), self.kpis(user=self.user_salesman))
        self.assertEqual(self.kpis(user=self.user_salesman)["stale_leads", None]["value"], 0)

    def test_a_head_of_sales_gets_their_teams_figures(self):
        head = self.env["res.users"].create(
            {
                "name": "Hanna Head",
                "login": "kpi_engine_head",
                "group_ids": [(6, 0, self.env.ref("crm_regulation.group_head_of_sales").ids)],
            }
        )
        self.team.user_id = head
        sub_team = self.env["crm.team"].create({"name": "North", "parent_id": self.team.id})
        with self.at("2026-11-04 09:00:00"):
            self.env["crm.lead"].create(
                {"name": "Sub-team lead", "team_id": sub_team.id, "stage_id": self.stage_new.id}
            )
        mine = self.kpis(user=head)
        self.assertEqual(mine["new_leads", None]["value"], 6, "the team's five and North's one")
        # the same figures as a sales administrator's, and nothing of another team's
        self.assertEqual(
            {key: kpi["value"] for key, kpi in mine.items()},
            {key: kpi["value"] for key, kpi in self.kpis().items()},
        )
        other = self.env["crm.team"].create({"name": "Elsewhere"})
        elsewhere = self.kpis(user=head, team=other)
        self.assertEqual(elsewhere["new_leads", None]["value"], 0, "no lead of theirs there")
