from datetime import datetime

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestDuplicatesAndOutcomes(CrmRegulationCommon):
    """Duplicates at creation (warn / block, naming the original's owner) and the outcome
    analysis (disqualification vs loss per salesperson, anti-gaming flag)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spam = cls.env.ref("crm_regulation.lost_reason_spam")
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")
        cls.original = cls._create_leads(
            1,
            user=cls.user_salesman_2,
            email_from="Ivan <ivan@example.com>",
            phone="+7 900 000 00 01",
        )

    # ------------------------------------------------------------
    # duplicates at creation
    # ------------------------------------------------------------

    def create_lead(self, user=None, **values):
        return (
            self.env["crm.lead"]
            .with_user(user or self.user_salesman)
            .create({"name": "New request", "team_id": self.team.id, **values})
        )

    def test_duplicates_allowed_by_default(self):
        lead = self.create_lead(email_from="ivan@example.com")
        self.assertFalse(lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body))

    def test_warn_names_the_original_and_its_owner(self):
        self.team.duplicate_policy = "warn"
        lead = self.create_lead(email_from="IVAN@example.com")
        note = lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body)
        self.assertEqual(len(note), 1)
        # a salesperson does not read a colleague's lead: its owner is named, not the lead
        self.assertIn("a lead you cannot see (owner: Pavel Salesman)", note.body)
        self.assertNotIn(self.original.name, note.body)
        # the head of sales reads it: the lead, its owner and its team
        lead = self.create_lead(email_from="ivan@example.com", user=self.user_manager)
        note = lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body)
        self.assertIn(f"“{self.original.name}” (owner: Pavel Salesman", note.body)
        self.assertIn("team: Regulated Team", note.body)
        # the form warns while typing
        with Form(self.env["crm.lead"].with_user(self.user_salesman)) as form:
            form.name = "Typed"
            form.team_id = self.team
            form.phone = "+7 900 000 00 01"
        self.assertTrue(form.record.id)

    def test_block_refuses_and_says_who_owns_the_original(self):
        self.team.duplicate_policy = "block"
        count = self.env["crm.lead"].search_count([])
        with self.assertRaises(UserError) as caught:
            self.create_lead(phone="+7 900 000 00 01")
        self.assertIn("“New request” duplicates", str(caught.exception))
        self.assertIn("owner: Pavel Salesman", str(caught.exception))
        self.assertEqual(self.env["crm.lead"].search_count([]), count)
        # an import refuses the row and says why
        result = (
            self.env["crm.lead"]
            .with_user(self.user_salesman)
            .load(
                ["name", "team_id/.id", "email_from"],
                [["Imported", str(self.team.id), "ivan@example.com"]],
            )
        )
        self.assertFalse(result["ids"])
        self.assertIn("owner: Pavel Salesman", result["messages"][0]["message"])
        # a lead closed as lost is not an open original any more
        self.original.action_set_lost(lost_reason_id=self.no_response.id)
        self.assertTrue(self.create_lead(phone="+7 900 000 00 01"))

    def test_block_does_not_drop_customer_emails(self):
        """The mail gateway's leads are warned about, never refused."""
        self.team.duplicate_policy = "block"
        self.team.alias_name = "regulated-sales"
        lead_id = (
            self.env["mail.thread"]
            .with_context(default_team_id=self.team.id)
            .message_process(
                "crm.lead",
                "From: ivan@example.com\nTo: regulated-sales@example.com\nSubject: Again\n"
                "Message-ID: <again@example.com>\n\nHello",
            )
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.team_id, self.team)
        self.assertTrue(lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body))

    # ------------------------------------------------------------
    # outcome analysis (anti-gaming)
    # ------------------------------------------------------------

    def close(self, user, outcomes, when="2026-10-15 10:00:00"):
        leads = self._create_leads(len(outcomes), user=user)
        with self.at(when):
            for lead, outcome in zip(leads, outcomes, strict=True):
                if outcome == "won":
                    lead.action_set_won()
                else:
                    lead.action_set_lost(
                        lost_reason_id=(
                            self.spam if outcome == "disqualified" else self.no_response
                        ).id
                    )
        return leads

    def test_outcome_report_rates_and_flag(self):
        self.team.write(
            {"disqualification_alert_points": 20, "disqualification_alert_min_leads": 4}
        )
        # Sasha disqualifies 4 of 5, Pavel 1 of 5: the team rate is 50 %
        self.close(self.user_salesman, ["disqualified"] * 4 + ["lost"])
        self.close(self.user_salesman_2, ["disqualified"] + ["won"] * 2 + ["lost"] * 2)
        self.env.flush_all()
        Report = self.env["crm.lead.outcome.report"].with_user(self.user_manager)
        rows = Report._read_group(
            [("team_id", "=", self.team.id), ("period", "=", "2026-10-01")],
            ["user_id"],
            [
                "closed_count:sum",
                "disqualified_count:sum",
                "disqualification_rate:avg",
                "loss_rate:avg",
                "win_rate:avg",
                "qualified_win_rate:avg",
                "team_disqualification_rate:avg",
            ],
        )
        by_user = {user: values for user, *values in rows}
        self.assertEqual(by_user[self.user_salesman], [5, 4, 80.0, 20.0, 0.0, 0.0, 50.0])
        self.assertEqual(by_user[self.user_salesman_2], [5, 1, 20.0, 40.0, 40.0, 50.0, 50.0])
        flagged = Report.search([("flagged", "=", True), ("team_id", "=", self.team.id)])
        self.assertEqual(set(flagged.mapped("user_id")), {self.user_salesman})
        # reasons breakdown
        reasons = dict(
            Report._read_group(
                [("team_id", "=", self.team.id), ("outcome", "!=", "won")],
                ["lost_reason_id"],
                ["__count"],
            )
        )
        self.assertEqual(reasons, {self.spam: 5, self.no_response: 3})
        # below the minimum number of closed leads: no flag
        self.team.disqualification_alert_min_leads = 6
        self.assertFalse(Report.search([("flagged", "=", True), ("team_id", "=", self.team.id)]))

    def test_outcome_report_is_for_the_head_of_sales(self):
        with mute_logger("odoo.models"), self.assertRaises(AccessError):
            self.env["crm.lead.outcome.report"].with_user(self.user_salesman).search([])

    def test_conversion_leaves_disqualified_out(self):
        """A disqualified lead changes the win rate over all closed leads, not the win
        rate over real opportunities (won / (won + lost))."""
        self.close(self.user_salesman, ["won", "lost"], when="2026-09-10 10:00:00")
        Report = self.env["crm.lead.outcome.report"]
        domain = [("team_id", "=", self.team.id), ("period", "=", "2026-09-01")]
        before = Report._read_group(domain, [], ["qualified_win_rate:avg", "win_rate:avg"])[0]
        self.close(self.user_salesman, ["disqualified"] * 3, when="2026-09-11 10:00:00")
        after = Report._read_group(domain, [], ["qualified_win_rate:avg", "win_rate:avg"])[0]
        self.assertEqual(before, (50.0, 50.0))
        self.assertEqual(after, (50.0, 20.0))
        self.assertEqual(
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search_count(
                [("team_id", "=", self.team.id), ("date_closed", ">=", datetime(2026, 9, 1))]
            ),
            5,
        )
