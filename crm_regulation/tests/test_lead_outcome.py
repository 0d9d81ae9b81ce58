from datetime import datetime

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestLeadOutcome(CrmRegulationCommon):
    """Disqualification vs loss: reason categories and their requirements on every path,
    the one dialog, outcome, return to work with a reason, the loss review."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spam = cls.env.ref("crm_regulation.lost_reason_spam")
        cls.duplicate = cls.env.ref("crm_regulation.lost_reason_duplicate")
        cls.other = cls.env.ref("crm_regulation.lost_reason_other")
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")

    def lose_wizard(self, leads, user=None, **values):
        return Form(
            self.env["crm.lead.lost"]
            .with_user(user or self.user_salesman)
            .with_context(active_ids=leads.ids, default_lead_ids=leads.ids, **values)
        )

    # ------------------------------------------------------------
    # reasons
    # ------------------------------------------------------------

    def test_default_reasons(self):
        Reason = self.env["crm.lost.reason"]
        disqualification = Reason.search([("category", "=", "disqualification")])
        self.assertGreaterEqual(
            set(disqualification.mapped("name")),
            {
                "Spam",
                "Duplicate",
                "Existing customer",
                "Already a unit holder in the project",
                "Wrong contact data",
                "Outside the target audience",
                "Test lead",
            },
        )
        loss = Reason.search([("category", "=", "loss")])
        self.assertGreaterEqual(
            set(loss.mapped("name")),
            {
                "Too expensive",
                "Chose a competitor",
                "No budget",
                "Postponed",
                "No response",
                "Other",
            },
        )
        self.assertFalse(self.spam.revivable)
        self.assertTrue(self.no_response.revivable)
        self.assertTrue(self.duplicate.requires_duplicate_of)
        self.assertTrue(self.other.requires_comment)
        # translated for the users (the Russian translation ships with the addon)
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"]._load_module_terms(
            ["crm_regulation"], ["ru_RU"], overwrite=True
        )
        self.assertEqual(
            self.env.ref("crm_regulation.lost_reason_unit_holder").with_context(lang="ru_RU").name,
            "Дольщик",
        )

    def test_reason_in_use_cannot_be_deleted(self):
        reason = self.env["crm.lost.reason"].create({"name": "Went silent"})
        lead = self._create_leads(1)
        lead.action_set_lost(lost_reason_id=reason.id)
        with self.refused("archive them instead: “Went silent” (1 leads)"):
            reason.with_user(self.user_manager).unlink()
        reason.with_user(self.user_manager).action_archive()
        self.assertFalse(reason.active)
        self.assertEqual(lead.lost_reason_id, reason)
        unused = self.env["crm.lost.reason"].create({"name": "Unused"})
        unused.with_user(self.user_manager).unlink()
        self.assertFalse(unused.exists())

    # ------------------------------------------------------------
    # the one dialog
    # ------------------------------------------------------------

    def test_disqualify_through_the_dialog(self):
        lead = self._create_leads(1)
        with self.lose_wizard(lead, default_category="disqualification") as wizard:
            # only disqualification reasons are offered
            self.assertEqual(wizard.category, "disqualification")
            wizard.lost_reason_id = self.spam
        wizard.record.action_lost_reason_apply()
        self.assertEqual(lead.outcome, "disqualified")
        self.assertEqual(lead.won_status, "lost")
        self.assertEqual(lead.loss_review_state, "to_review")
        self.assertEqual(self.history(lead)[-1].end_reason, "lost")

    def test_dialog_reason_is_mandatory(self):
        lead = self._create_leads(1)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create({"lead_ids": [(6, 0, lead.ids)]})
        )
        with self.refused("Choose a reason"):
            wizard.action_lost_reason_apply()
        self.assertTrue(lead.active)

    def test_duplicate_needs_another_lead(self):
        original, lead = self._create_leads(2)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create({"lead_ids": [(6, 0, lead.ids)], "lost_reason_id": self.duplicate.id})
        )
        with self.refused("requires the original lead"):
            wizard.action_lost_reason_apply()
        wizard.duplicate_of_id = lead
        with self.refused("cannot be the duplicate of itself"):
            wizard.action_lost_reason_apply()
        self.assertTrue(lead.active)
        self.assertFalse(lead.duplicate_of_id)
        # merge instead: Odoo's merge dialog with both leads
        wizard.duplicate_of_id = original
        action = wizard.action_merge_with_original()
        self.assertEqual(action["res_model"], "crm.merge.opportunity")
        self.assertEqual(set(action["context"]["active_ids"]), {original.id, lead.id})
        wizard.action_lost_reason_apply()
        self.assertEqual(lead.duplicate_of_id, original)
        self.assertEqual(lead.outcome, "disqualified")

    def test_comment_required(self):
        lead = self._create_leads(1)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create(
                {
                    "lead_ids": [(6, 0, lead.ids)],
                    "lost_reason_id": self.other.id,
                    "lost_feedback": "<p> </p>",
                }
            )
        )
        with self.refused("requires a closing note"):
            wizard.action_lost_reason_apply()
        self.assertTrue(lead.active)
        wizard.lost_feedback = "<p>Moved abroad</p>"
        wizard.action_lost_reason_apply()
        self.assertEqual(lead.outcome, "lost")
        self.assertIn("Moved abroad", lead.lost_feedback)

    def test_mass_disqualification_is_one_call(self):
        leads = self._create_leads(5)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create(
                {
                    "lead_ids": [(6, 0, leads.ids)],
                    "lost_reason_id": self.spam.id,
                    "category": "disqualification",
                }
            )
        )
        wizard.action_lost_reason_apply()
        self.assertEqual(set(leads.mapped("outcome")), {"disqualified"})

    # ------------------------------------------------------------
    # every other path: RPC action_set_lost, raw writes, import
    # ------------------------------------------------------------

    def test_action_set_lost_requires_a_reason(self):
        leads = self._create_leads(2)
        with self.assertRaises(UserError) as caught:
            leads.with_user(self.user_salesman).action_set_lost()
        message = str(caught.exception)
        self.assertIn("“Lead 0” → Lost: a lost reason is required.", message)
        self.assertIn("“Lead 1” → Lost: a lost reason is required.", message)
        self.assertTrue(all(leads.mapped("active")))

    def test_action_set_lost_checks_reason_requirements(self):
        original, lead = self._create_leads(2)
        salesman_lead = lead.with_user(self.user_salesman)
        with self.refused("the reason requires the original lead"):
            salesman_lead.action_set_lost(lost_reason_id=self.duplicate.id)
        with self.refused("duplicate of itself", ValidationError):
            salesman_lead.action_set_lost(lost_reason_id=self.duplicate.id, duplicate_of_id=lead.id)
        with self.refused("the reason requires a closing note"):
            salesman_lead.action_set_lost(lost_reason_id=self.other.id, lost_feedback="")
        self.assertTrue(lead.active)
        salesman_lead.action_set_lost(lost_reason_id=self.duplicate.id, duplicate_of_id=original.id)
        self.assertEqual(lead.outcome, "disqualified")

    def test_raw_write_and_archive_of_a_zero_lead_need_a_reason(self):
        lead = self._create_leads(1, probability=0)
        with self.refused("a lost reason is required"):
            lead.with_user(self.user_salesman).write({"active": False})
        with self.refused("a lost reason is required"):
            lead.with_user(self.user_salesman).action_archive()
        self.assertTrue(lead.active)
        # an archived lead that is not lost (probability > 0) needs nothing
        other = self._create_leads(1, probability=20)
        other.action_archive()
        self.assertEqual(other.outcome, "open")

    def test_changing_the_reason_of_a_lost_lead_is_checked(self):
        lead = self._create_leads(1)
        lead.action_set_lost(lost_reason_id=self.no_response.id)
        with self.refused("the reason requires the original lead"):
            lead.with_user(self.user_salesman).write({"lost_reason_id": self.duplicate.id})
        self.assertEqual(lead.lost_reason_id, self.no_response)
        lead.write({"lost_reason_id": self.spam.id})
        self.assertEqual(lead.outcome, "disqualified")

    def test_self_duplicate_constraint(self):
        lead = self._create_leads(1)
        with self.refused("duplicate of itself", ValidationError):
            lead.write({"duplicate_of_id": lead.id})

    def test_import_of_lost_leads_needs_reasons(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        result = Lead.load(
            ["name", "team_id/.id", "active", "probability"],
            [["Old lost lead", str(self.team.id), "False", "0"]],
        )
        self.assertFalse(result["ids"])
        self.assertIn("a lost reason is required", result["messages"][0]["message"])
        result = Lead.load(
            ["name", "team_id/.id", "active", "probability", "lost_reason_id/.id"],
            [["Old lost lead", str(self.team.id), "False", "0", str(self.no_response.id)]],
        )
        self.assertEqual(len(result["ids"]), 1)
        self.assertEqual(Lead.browse(result["ids"]).with_context(active_test=False).outcome, "lost")

    def test_outcome_filters(self):
        won, lost, disqualified, open_lead = self._create_leads(4)
        won.action_set_won()
        lost.action_set_lost(lost_reason_id=self.no_response.id)
        disqualified.action_set_lost(lost_reason_id=self.spam.id)
        Lead = self.env["crm.lead"].with_user(self.user_salesman).with_context(active_test=False)
        mine = [("id", "in", (won | lost | disqualified | open_lead).ids)]
        self.assertEqual(Lead.search([*mine, ("outcome", "=", "won")]), won)
        self.assertEqual(Lead.search([*mine, ("outcome", "=", "lost")]), lost)
        self.assertEqual(Lead.search([*mine, ("outcome", "=", "disqualified")]), disqualified)
        self.assertEqual(Lead.search([*mine, ("outcome", "=", "open")]), open_lead)
        # a reason moving to the other category moves its leads
        self.no_response.category = "disqualification"
        self.assertEqual(lost.outcome, "disqualified")

    def test_system_fields_are_not_writable(self):
        lead = self._create_leads(1)
        lead.action_set_lost(lost_reason_id=self.no_response.id)
        for values in (
            {"loss_review_state": "confirmed"},
            {"qualification_state": "done"},
            {"stale_date": False},
        ):
            with self.assertRaises(AccessError):
                lead.with_user(self.user_manager).write(values)
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(self.user_salesman).create(
                {"name": "Gamed", "qualification_state": "done"}
            )
        self.assertEqual(lead.loss_review_state, "to_review")

    # ------------------------------------------------------------
    # return to work
    # ------------------------------------------------------------

    def test_restore_asks_why(self):
        lead = self._create_leads(1, stage=self.stage_proposal)
        lead.action_set_lost(lost_reason_id=self.spam.id)
        salesman_lead = lead.with_user(self.user_salesman)
        for method in (salesman_lead.action_restore, salesman_lead.action_unarchive):
            action = method()
            self.assertEqual(action["res_model"], "crm.lead.restore")
            self.assertFalse(lead.active)
        with self.refused("a lost lead returns to work with a reason"):
            salesman_lead.write({"active": True})
        with self.refused("Say why"):
            salesman_lead.action_return_to_work("  ")
        wizard = Form(
            self.env["crm.lead.restore"]
            .with_user(self.user_salesman)
            .with_context(**action["context"])
        )
        wizard.reason = "Real customer: the spam filter was wrong"
        wizard.save().action_apply()
        self.assertTrue(lead.active)
        self.assertEqual(lead.outcome, "open")
        self.assertFalse(lead.lost_reason_id)
        self.assertFalse(lead.loss_review_state)
        message = lead.message_ids.filtered(
            lambda m: m.subtype_id == self.env.ref("crm_regulation.mt_lead_returned")
        )
        self.assertEqual(len(message), 1)
        self.assertIn("the spam filter was wrong", message.body)
        self.assertIn("Spam", message.body)
        self.assertEqual(message.author_id, self.user_salesman.partner_id)
        # the stage history continues: a new stay in the same stage
        self.assertEqual(self.open_stays(lead).stage_id, self.stage_proposal)
        self.assertEqual(len(self.history(lead)), 2)

    def test_restore_mixed_selection(self):
        """Unarchiving a selection: archived (not lost) leads come back, lost ones ask why."""
        archived, lost = self._create_leads(2, probability=20)
        archived.action_archive()
        lost.action_set_lost(lost_reason_id=self.no_response.id)
        action = (archived | lost).with_user(self.user_salesman).action_unarchive()
        self.assertTrue(archived.active)
        self.assertFalse(lost.active)
        self.assertEqual(action["context"]["default_lead_ids"], lost.ids)

    def test_won_directly_from_lost_needs_no_reason(self):
        lead = self._create_leads(1)
        lead.action_set_lost(lost_reason_id=self.no_response.id)
        lead.with_user(self.user_salesman).action_set_won()
        self.assertEqual(lead.outcome, "won")

    # ------------------------------------------------------------
    # loss review
    # ------------------------------------------------------------

    def test_loss_review(self):
        lost, disqualified, wrong = self._create_leads(3)
        lost.action_set_lost(lost_reason_id=self.no_response.id)
        disqualified.action_set_lost(lost_reason_id=self.spam.id)
        wrong.action_set_lost(lost_reason_id=self.spam.id)
        queue = (
            self.env["crm.lead"]
            .with_user(self.user_manager)
            .with_context(active_test=False)
            .search([("loss_review_state", "=", "to_review"), ("team_id", "=", self.team.id)])
        )
        self.assertEqual(queue, lost | disqualified | wrong)
        # a salesperson cannot review (not even their own losses)
        with mute_logger("odoo.addons.base.models.ir_rule"), self.assertRaises(AccessError):
            lost.with_user(self.user_salesman).action_loss_review_confirm()
        with self.assertRaises(AccessError):
            wrong.with_user(self.user_salesman).action_loss_review_return()
        (lost | disqualified).with_user(self.user_manager).action_loss_review_confirm()
        self.assertEqual(lost.loss_review_state, "confirmed")
        self.assertEqual(lost.loss_reviewed_by_id, self.user_manager)
        self.assertTrue(lost.loss_review_date)
        action = wrong.with_user(self.user_manager).action_loss_review_return()
        self.assertTrue(action["context"]["default_review"])
        wizard = (
            self.env["crm.lead.restore"]
            .with_user(self.user_manager)
            .with_context(**action["context"])
            .create({"reason": "A real buyer, not spam"})
        )
        wizard.action_apply()
        self.assertTrue(wrong.active)
        self.assertEqual(wrong.loss_review_state, "returned")
        self.assertEqual(wrong.loss_reviewed_by_id, self.user_manager)
        # lost again later: a new loss to review
        wrong.action_set_lost(lost_reason_id=self.no_response.id)
        self.assertEqual(wrong.loss_review_state, "to_review")
        self.assertFalse(wrong.loss_reviewed_by_id)

    def test_loss_review_is_tracked(self):
        lead = self._create_leads(1).with_context(tracking_disable=False)
        self.env.cr.precommit.run()  # leads are tracked from the transaction after their creation
        lead.action_set_lost(lost_reason_id=self.no_response.id)
        lead.with_user(self.user_manager).action_loss_review_confirm()
        self.env.cr.precommit.run()
        tracked = lead.message_ids.tracking_value_ids.filtered(
            lambda value: value.field_id.name == "loss_review_state"
        )
        self.assertEqual(tracked.mapped("new_value_char"), ["Confirmed"])

    def test_views_offer_disqualify_and_outcome_everywhere(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        for view_type, xmlid in (
            ("form", "crm.crm_lead_view_form"),
            ("kanban", "crm.crm_case_kanban_view_leads"),
            ("list", "crm.crm_case_tree_view_oppor"),
            ("list", "crm.crm_case_tree_view_leads"),
        ):
            arch = Lead.get_view(self.env.ref(xmlid).id, view_type)["arch"]
            self.assertIn("Disqualify", arch, xmlid)
        search = Lead.get_view(self.env.ref("crm.view_crm_case_opportunities_filter").id, "search")[
            "arch"
        ]
        for name in (
            "filter_outcome_lost",
            "filter_outcome_disqualified",
            "group_outcome",
            "stale",
            "qualification_overdue",
            "loss_to_review",
        ):
            self.assertIn(f'name="{name}"', search)
        # the review buttons are the head of sales'
        form_id = self.env.ref("crm.crm_lead_view_form").id
        self.assertNotIn("action_loss_review_confirm", Lead.get_view(form_id, "form")["arch"])
        manager_form = (
            self.env["crm.lead"].with_user(self.user_manager).get_view(form_id, "form")["arch"]
        )
        self.assertIn("action_loss_review_confirm", manager_form)


@tagged("post_install", "-at_install")
class TestOutcomeAnalysis(CrmRegulationCommon):
    """The outcome analysis: disqualification vs loss per salesperson, anti-gaming flag."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spam = cls.env.ref("crm_regulation.lost_reason_spam")
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")
        # an open lead of another salesperson: left out of every figure
        cls._create_leads(1, user=cls.user_salesman_2)

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
