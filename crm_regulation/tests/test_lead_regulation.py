from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestLeadRegulation(CrmRegulationCommon):
    """The regulation enforced on every path of crm.lead, as the salesperson who works."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the common case, configured on the stages: a phone to qualify, a revenue to
        # propose, no skipping from the first stages
        cls.stage_qualification.required_field_ids = cls._field("phone")
        cls.stage_proposal.required_field_ids = cls._field("expected_revenue")
        (cls.stage_new | cls.stage_qualification).no_skip = True
        cls.won_rule = cls._rule(
            name="Won only after contract and first payment",
            target="won",
            required_domain="[('contract_signed', '=', True), ('first_payment_date', '!=', False)]",
            message="Sign the contract and record the first payment first.",
        )

    def move(self, leads, stage, user=None, **values):
        return leads.with_user(user or self.user_salesman).write({"stage_id": stage.id, **values})

    def assertNothingMoved(self, leads, stage):
        self.assertEqual(set(leads.mapped("stage_id")), {stage})
        self.assertEqual(set(self.open_stays(leads).mapped("stage_id")), {stage})

    # ------------------------------------------------------------
    # stage shortcuts
    # ------------------------------------------------------------

    def test_required_field_blocks_kanban_drag(self):
        lead = self._create_leads(1)
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_qualification)
        message = str(caught.exception)
        self.assertIn("“Lead 0” → “Qualification”", message)
        self.assertIn("“Phone” is empty", message)
        self.assertIn("Nothing was changed.", message)
        self.assertNothingMoved(lead, self.stage_new)

    def test_required_field_written_with_the_move_counts(self):
        """List mass edit: the stage and the required field in one write."""
        leads = self._create_leads(3)
        self.move(leads, self.stage_qualification, phone="+7 900 000 00 00")
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_qualification})

    def test_batch_is_refused_whole_and_names_each_lead(self):
        leads = self._create_leads(3)
        leads[0].phone = "+7 900 000 00 01"
        with self.assertRaises(UserError) as caught:
            self.move(leads, self.stage_qualification)
        message = str(caught.exception)
        self.assertNotIn("“Lead 0”", message)
        self.assertIn("“Lead 1” → “Qualification”: “Phone” is empty.", message)
        self.assertIn("“Lead 2” → “Qualification”: “Phone” is empty.", message)
        # no half-moved batch: the compliant lead did not move either
        self.assertNothingMoved(leads, self.stage_new)

    def test_no_skipping_forward_but_backward_is_free(self):
        lead = self._create_leads(1, phone="+7 900 000 00 02")
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_presentation)
        self.assertIn("skipped: Qualification", str(caught.exception))
        self.move(lead, self.stage_qualification)
        self.move(lead, self.stage_presentation)
        self.move(lead, self.stage_new)  # back: allowed
        self.assertEqual(lead.stage_id, self.stage_new)

    def test_allowed_next_stages(self):
        self.stage_presentation.allowed_next_stage_ids = self.stage_proposal | self.stage_new
        lead = self._create_leads(1, stage=self.stage_presentation, expected_revenue=1000)
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_negotiation)
        self.assertIn("allowed next stages: New Lead, Proposal", str(caught.exception))
        self.move(lead, self.stage_proposal)
        self.assertEqual(lead.stage_id, self.stage_proposal)

    def test_rule_naming_a_move_opens_it(self):
        """A rule from Qualification to Proposal lets that move skip Presentation, and its
        own requirements apply to it."""
        self._rule(
            name="Fast track for referrals",
            from_stage_ids=[(6, 0, self.stage_qualification.ids)],
            to_stage_id=self.stage_proposal.id,
            required_field_ids=[(6, 0, self._field("referred").ids)],
        )
        lead = self._create_leads(
            1, stage=self.stage_qualification, phone="1", expected_revenue=5000
        )
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_proposal)
        self.assertIn("“Referred By” is empty", str(caught.exception))
        self.assertNotIn("skipped", str(caught.exception))
        lead.referred = "Anna"
        self.move(lead, self.stage_proposal)
        self.assertEqual(lead.stage_id, self.stage_proposal)

    def test_create_with_a_stage_is_checked(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        with self.assertRaises(UserError):
            Lead.create(
                {"name": "Imported", "team_id": self.team.id, "stage_id": self.stage_proposal.id}
            )
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "Imported")]))
        lead = Lead.create(
            {
                "name": "Imported",
                "team_id": self.team.id,
                "stage_id": self.stage_proposal.id,
                "expected_revenue": 100,
            }
        )
        self.assertEqual(lead.stage_id, self.stage_proposal)

    def test_default_stage_of_a_new_lead_is_not_judged(self):
        """A web form or an incoming email creates leads in the team's first stage: they are
        not refused for what that stage asks (the checklist shows it)."""
        shared = self.env["crm.stage"].search([("team_ids", "=", False)])
        shared.team_ids = self.env["crm.team"].create({"name": "Elsewhere"})
        self.stage_new.required_field_ids = self._field("phone")
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        lead = Lead.create({"name": "From the website", "team_id": self.team.id})
        self.assertEqual(lead.stage_id, self.stage_new)
        with self.assertRaises(UserError):
            Lead.create(
                {"name": "Explicit", "team_id": self.team.id, "stage_id": self.stage_new.id}
            )

    def test_other_team_is_not_regulated_by_team_rules(self):
        other_team = self.env["crm.team"].create({"name": "Other"})
        # given to the salesperson by the head of sales (a salesperson cannot create leads
        # in a team of which they are not a member)
        lead = self.env["crm.lead"].create(
            {"name": "Lead 0", "user_id": self.user_salesman.id, "team_id": other_team.id}
        )
        lead.with_user(self.user_salesman).action_set_won()
        self.assertEqual(lead.won_status, "won")

    # ------------------------------------------------------------
    # won and lost
    # ------------------------------------------------------------

    def test_won_criteria_on_the_won_button(self):
        lead = self._create_leads(1, stage=self.stage_contract)
        with self.assertRaises(UserError) as caught:
            lead.with_user(self.user_salesman).action_set_won()
        message = str(caught.exception)
        self.assertIn("“Lead 0” → Won (Won)", message)
        self.assertIn("the conditions of “Won only after contract and first payment”", message)
        self.assertIn("Sign the contract and record the first payment first.", message)
        self.assertEqual(lead.won_status, "pending")
        lead.with_user(self.user_salesman).write(
            {"contract_signed": True, "first_payment_date": "2026-11-20"}
        )
        lead.with_user(self.user_salesman).action_set_won()
        self.assertEqual(lead.won_status, "won")

    def test_won_criteria_on_a_drag_to_the_won_stage(self):
        lead = self._create_leads(1, stage=self.stage_contract, contract_signed=True)
        with self.assertRaises(UserError):
            self.move(lead, self.stage_won)
        self.move(lead, self.stage_won, first_payment_date="2026-11-20")
        self.assertEqual(lead.won_status, "won")

    def test_lost_rule_through_the_lose_wizard(self):
        self._rule(
            name="Losses need the customer's email",
            target="lost",
            required_field_ids=[(6, 0, self._field("email_from").ids)],
        )
        lead = self._create_leads(1)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create({"lead_ids": [(6, 0, lead.ids)], "lost_reason_id": self.lost_reason.id})
        )
        with self.assertRaises(UserError) as caught:
            wizard.action_lost_reason_apply()
        self.assertIn("“Lead 0” → Lost: “Email” is empty.", str(caught.exception))
        self.assertTrue(lead.active)
        lead.email_from = "lead0@example.com"
        wizard.action_lost_reason_apply()
        self.assertEqual(lead.won_status, "lost")
        self.assertEqual(self.history(lead).end_reason, "lost")

    def test_restore_is_checked(self):
        lead = self._create_leads(1, stage=self.stage_proposal, expected_revenue=10)
        lead.with_user(self.user_salesman).action_set_lost(lost_reason_id=self.lost_reason.id)
        lead.expected_revenue = 0
        with self.assertRaises(UserError) as caught:
            lead.with_user(self.user_salesman).action_return_to_work("Customer called back")
        self.assertIn("“Expected Revenue” is empty", str(caught.exception))
        self.assertFalse(lead.active)
        lead.expected_revenue = 10
        lead.with_user(self.user_salesman).action_return_to_work("Customer called back")
        self.assertTrue(lead.active)

    # ------------------------------------------------------------
    # conditions, activities, warnings, bypass
    # ------------------------------------------------------------

    def test_condition_domain_limits_the_rule(self):
        self._rule(
            name="Big deals need a decision maker",
            to_stage_id=self.stage_negotiation.id,
            condition_domain="[('expected_revenue', '>=', 100000)]",
            required_field_ids=[(6, 0, self._field("function").ids)],
        )
        small, big = self._create_leads(2, stage=self.stage_proposal, expected_revenue=1)
        small.expected_revenue, big.expected_revenue = 5000, 250000
        self.move(small, self.stage_negotiation)
        with self.assertRaises(UserError) as caught:
            self.move(big, self.stage_negotiation)
        self.assertIn("“Lead 1” → “Negotiation”: “Job Position” is empty.", str(caught.exception))

    def test_required_done_activity(self):
        meeting = self.env.ref("mail.mail_activity_data_meeting")
        self._rule(
            name="Present at a meeting",
            to_stage_id=self.stage_presentation.id,
            required_activity_type_ids=[(6, 0, meeting.ids)],
        )
        lead = self._create_leads(1, stage=self.stage_qualification, phone="1")
        activity = lead.with_user(self.user_salesman).activity_schedule(
            activity_type_id=meeting.id, user_id=self.user_salesman.id
        )
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_presentation)
        self.assertIn("activity “Meeting” is not done", str(caught.exception))
        activity.with_user(self.user_salesman).action_feedback(feedback="Met the family")
        self.move(lead, self.stage_presentation)
        self.assertEqual(lead.stage_id, self.stage_presentation)

    def test_warn_rule_moves_and_logs(self):
        warning = self.env.ref("crm_regulation.mt_regulation_warning")
        self._rule(
            name="Budget known",
            to_stage_id=self.stage_negotiation.id,
            severity="warn",
            required_domain="[('expected_revenue', '>', 0)]",
            message="Ask for the budget.",
        )
        leads = self._create_leads(2, stage=self.stage_proposal, expected_revenue=1)
        leads[1].expected_revenue = 0
        bus_before = self.env["bus.bus"].search_count([])
        self.move(leads, self.stage_negotiation)
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_negotiation})
        messages = self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "in", leads.ids),
                ("subtype_id", "=", warning.id),
            ]
        )
        self.assertEqual(messages.mapped("res_id"), [leads[1].id])
        self.assertIn("Ask for the budget.", messages.body)
        self.assertIn("Budget known", messages.body)
        # and in the UI: a notification to the user who moved the lead
        self.env.cr.precommit.run()
        self.assertGreater(self.env["bus.bus"].search_count([]), bus_before)

    def test_bypass_group_lets_the_manager_through_and_logs_it(self):
        self.won_rule.bypass_group_ids = self.env.ref("sales_team.group_sale_manager")
        bypass = self.env.ref("crm_regulation.mt_regulation_bypass")
        lead = self._create_leads(1, stage=self.stage_contract)
        with self.assertRaises(UserError):
            lead.with_user(self.user_salesman).action_set_won()
        lead.with_user(self.user_manager).action_set_won()
        self.assertEqual(lead.won_status, "won")
        message = self.env["mail.message"].search(
            [("model", "=", "crm.lead"), ("res_id", "=", lead.id), ("subtype_id", "=", bypass.id)]
        )
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.user_manager.partner_id)
        self.assertIn("Maria Head of Sales", message.body)
        self.assertIn("Won only after contract and first payment", message.body)
        # countable for reports
        self.assertEqual(lead.regulation_bypass_count, 1)
        self.assertEqual(self.env["crm.lead"].search([("regulation_bypassed", "=", True)]), lead)
        self.assertNotIn(lead, self.env["crm.lead"].search([("regulation_bypassed", "=", False)]))

    def test_met_rule_is_not_a_bypass(self):
        self.won_rule.bypass_group_ids = self.env.ref("sales_team.group_sale_manager")
        lead = self._create_leads(
            1, stage=self.stage_contract, contract_signed=True, first_payment_date="2026-11-02"
        )
        lead.with_user(self.user_manager).action_set_won()
        self.assertEqual(lead.regulation_bypass_count, 0)

    # ------------------------------------------------------------
    # other paths: form statusbar, import
    # ------------------------------------------------------------

    def test_form_statusbar(self):
        lead = self._create_leads(1)
        form = Form(lead.with_user(self.user_salesman))
        form.stage_id = self.stage_qualification
        with self.assertRaises(UserError):
            form.save()
        self.assertNothingMoved(lead, self.stage_new)

    def test_automation_server_action(self):
        """An automated action (here a server action "update the record") goes through the
        same write and is refused the same way."""
        action = self._stage_action(self.stage_qualification)
        lead = self._create_leads(1)
        run = action.with_user(self.user_salesman).with_context(
            active_model="crm.lead", active_id=lead.id, active_ids=lead.ids
        )
        with self.assertRaises(UserError) as caught:
            run.sudo().run()
        self.assertIn("“Phone” is empty", str(caught.exception))
        self.assertNothingMoved(lead, self.stage_new)
        lead.phone = "+7 900 000 00 03"
        run.sudo().run()
        self.assertEqual(lead.stage_id, self.stage_qualification)

    def test_import_is_checked_and_reports_the_error(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        result = Lead.load(
            ["name", "team_id/.id", "stage_id/.id"],
            [["Imported A", str(self.team.id), str(self.stage_proposal.id)]],
        )
        self.assertFalse(result["ids"])
        self.assertIn("“Expected Revenue” is empty", result["messages"][0]["message"])
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "Imported A")]))

    # ------------------------------------------------------------
    # cost
    # ------------------------------------------------------------

    def _spy(self, queries):
        """A Cursor.execute that records the SQL it runs into ``queries``."""
        execute = type(self.env.cr).execute

        def spy(cr, query, params=None, log_exceptions=True):
            queries.append(str(query))
            return execute(cr, query, params, log_exceptions)

        return spy

    def test_query_count_does_not_grow_with_the_batch(self):
        """20 rules (5 apply to the move, one needs done activities): the addon's queries
        for a batch stage change are the same for 10 and for 200 leads."""
        meeting = self.env.ref("mail.mail_activity_data_meeting")
        for index in range(20):
            self._rule(
                name=f"Rule {index}",
                to_stage_id=self.stages[index % 4 + 2].id,
                required_domain="[('name', '!=', False)]",
                required_activity_type_ids=[(6, 0, meeting.ids)] if index == 3 else [],
                severity="warn" if index == 3 else "block",
            )
        ours = ("crm_regulation_rule", "crm_lead_stage_history", "mail_message", "mail_activity")
        counts = []
        for size in (5, 10, 200):  # the first one warms the caches up
            leads = self._create_leads(size, stage=self.stage_qualification, phone="1")
            self.env.invalidate_all()
            queries = []
            with patch.object(type(self.env.cr), "execute", self._spy(queries)):
                leads.with_user(self.user_salesman).write({"stage_id": self.stage_presentation.id})
                self.env.flush_all()
            self.assertEqual(set(leads.mapped("stage_id")), {self.stage_presentation})
            counts.append(sum(any(table in query for table in ours) for query in queries))
        self.assertEqual(counts[1], counts[2])
        # the stage history (its open stays read, one statement): the rules add none
        self.assertEqual(counts[2], 2)

    # ------------------------------------------------------------
    # the cached regulation
    # ------------------------------------------------------------

    def regulation(self):
        return self.env["crm.regulation.rule"]._get_regulation()

    def test_resequencing_the_columns_keeps_the_cache_and_follows_the_order(self):
        cached = self.regulation()
        # Qualification moves after Presentation: from New Lead (no skipping), Presentation
        # is next
        self.stage_qualification.sequence = self.stage_presentation.sequence + 1
        self.stage_qualification.name = "Qualification call"  # renaming: no clearing either
        self.assertIs(self.regulation(), cached)
        lead = self._create_leads(1)
        with self.assertRaises(UserError) as caught:
            self.move(lead, self.stage_qualification)
        self.assertIn("skipped: Presentation", str(caught.exception))
        self.move(lead, self.stage_presentation)
        self.assertEqual(lead.stage_id, self.stage_presentation)

    def test_what_the_snapshot_reads_clears_it(self):
        reason = self.lost_reason
        cached = self.regulation()
        reason.name = "Chose another supplier"
        self.assertIs(self.regulation(), cached)
        reason.requires_comment = True
        self.assertIsNot(self.regulation(), cached)
        self.assertTrue(self.regulation().reasons[reason.id].requires_comment)
        cached = self.regulation()
        self.won_rule.message = "Sign first."
        self.assertIs(self.regulation(), cached)
        self.won_rule.severity = "warn"
        rules = {rule.id: rule for rule in self.regulation().rules}
        self.assertEqual(rules[self.won_rule.id].severity, "warn")

    def test_a_deleted_plan_or_activity_type_leaves_the_regulation(self):
        call = self.env["mail.activity.type"].create({"name": "Qualification call"})
        plan = self.env["mail.activity.plan"].create(
            {
                "name": "Qualify",
                "res_model": "crm.lead",
                "template_ids": [(0, 0, {"activity_type_id": call.id, "summary": "Call"})],
            }
        )
        self.stage_qualification.entry_activity_plan_id = plan
        self._rule(
            name="Called before the presentation",
            to_stage_id=self.stage_presentation.id,
            required_activity_type_ids=[(6, 0, call.ids)],
        )
        self.assertIn(plan.id, self.regulation().plan_ids())
        self.assertIn(call.id, self.regulation().activity_type_ids())
        plan.template_ids.unlink()
        plan.unlink()
        self.assertNotIn(plan.id, self.regulation().plan_ids())
        lead = self._create_leads(1, phone="+7 900 000 00 03")
        self.move(lead, self.stage_qualification)  # no task, no error
        self.assertEqual(lead.stage_id, self.stage_qualification)
        call.unlink()
        self.assertNotIn(call.id, self.regulation().activity_type_ids())
        self.move(lead, self.stage_presentation)  # the requirement left with the type
        self.assertEqual(lead.stage_id, self.stage_presentation)

    def test_won_criteria_are_tracked_after_a_move_in_the_same_transaction(self):
        """A stage move leaves the won criteria out of its tracking (it does not write
        them); a later write of them in the same transaction still tracks from the value
        they had."""
        lead = self._create_leads(1, phone="+7 900 000 00 04").with_context(tracking_disable=False)
        self.env.cr.precommit.run()  # leads are tracked from the transaction after their creation
        lead.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
        lead.with_user(self.user_salesman).write({"contract_signed": True})
        self.env.cr.precommit.run()
        tracked = lead.message_ids.tracking_value_ids
        stage = tracked.filtered(lambda value: value.field_id.name == "stage_id")
        self.assertEqual(stage.mapped("old_value_char"), ["New Lead"])
        signed = tracked.filtered(lambda value: value.field_id.name == "contract_signed")
        self.assertEqual(signed.mapped("old_value_integer"), [0])
        self.assertEqual(signed.mapped("new_value_integer"), [1])
