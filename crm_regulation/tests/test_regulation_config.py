from datetime import timedelta

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestRegulationConfig(CrmRegulationCommon):
    """Configuring the regulation: bad input refused at save, the team warning, the lead's
    checklist, the tasks on entering a stage and the regulation as a document."""

    # ------------------------------------------------------------
    # bad input
    # ------------------------------------------------------------

    def test_invalid_domains_are_refused_at_save(self):
        for domain in (
            "[('name', '=',",  # not Python
            "[('no_such_field', '=', 1)]",  # a missing field
            "[('partner_id.no_such_field', '=', 1)]",  # a missing field down a path
            "[('name', 'resembles', 'x')]",  # not an operator
            "{'name': 'x'}",  # not a list
            "[('name', '=', __import__('os').getcwd())]",  # code, never evaluated
            "[('create_date', '>', context_today())]",  # variables are not literals
        ):
            with self.subTest(domain=domain):
                with self.assertRaises(ValidationError) as caught:
                    self._rule(name="Bad", to_stage_id=self.stage_new.id, required_domain=domain)
                self.assertIn("is not a valid domain on leads", str(caught.exception))
                with self.assertRaises(ValidationError):
                    self._rule(name="Bad", to_stage_id=self.stage_new.id, condition_domain=domain)
        self.assertFalse(self.env["crm.regulation.rule"].search([("name", "=", "Bad")]))

    def test_invalid_domain_refused_on_write_too(self):
        rule = self._rule(name="Good", to_stage_id=self.stage_new.id)
        with self.assertRaises(ValidationError):
            rule.required_domain = "[('nope', '=', 1)]"

    def test_required_field_must_be_a_stored_lead_field(self):
        not_stored = self._field("stage_history_count")  # computed, not stored
        other_model = self.env["ir.model.fields"]._get("res.partner", "phone")
        for fields_ in (not_stored, other_model):
            with self.subTest(field=fields_.name), self.assertRaises(ValidationError):
                self._rule(
                    name="Bad",
                    to_stage_id=self.stage_new.id,
                    required_field_ids=[(6, 0, fields_.ids)],
                )
            with self.subTest(field=fields_.name), self.assertRaises(ValidationError):
                self.stage_new.required_field_ids = fields_

    def test_target_stage_is_needed(self):
        with self.assertRaises(ValidationError):
            self._rule(name="Where to?", target="stage")
        self._rule(name="Won", target="won")

    def test_negative_window_is_refused(self):
        with self.assertRaises(ValidationError):
            self.stage_new.entry_activity_window_days = -1

    def test_salesperson_cannot_configure(self):
        with self.assertRaises(AccessError):
            self.env["crm.regulation.rule"].with_user(self.user_salesman).create(
                {"name": "Mine", "target": "won"}
            )
        rule = self._rule(name="Read only", target="won")
        self.assertEqual(rule.with_user(self.user_salesman).name, "Read only")
        with self.assertRaises(AccessError):
            rule.with_user(self.user_salesman).severity = "warn"
        rule.with_user(self.user_manager).severity = "warn"

    def test_archived_rule_is_not_enforced(self):
        rule = self._rule(
            name="Revenue",
            to_stage_id=self.stage_qualification.id,
            required_field_ids=[(6, 0, self._field("expected_revenue").ids)],
        )
        lead = self._create_leads(1)
        with self.assertRaises(UserError):
            lead.with_user(self.user_salesman).stage_id = self.stage_qualification
        rule.active = False
        lead.with_user(self.user_salesman).stage_id = self.stage_qualification
        self.assertEqual(lead.stage_id, self.stage_qualification)

    # ------------------------------------------------------------
    # won unreachable: a warning on the team
    # ------------------------------------------------------------

    def test_won_unreachable_is_reported_on_the_team(self):
        # the team's pipeline is its own stages only (crm's shared stages go elsewhere)
        shared = self.env["crm.stage"].search([("team_ids", "=", False)])
        shared.team_ids = self.env["crm.team"].create({"name": "Elsewhere"})
        self.assertFalse(self.team.regulation_warning)
        # Negotiation may only go back to Proposal: nobody reaches Contract or Won
        self.stage_negotiation.allowed_next_stage_ids = self.stage_proposal
        self.stages.no_skip = True
        self.team.invalidate_recordset(["regulation_warning"])
        self.assertIn("cannot reach a won stage", self.team.regulation_warning)
        self.assertIn("from “New Lead”", self.team.regulation_warning)
        # a rule naming the move Negotiation -> Contract opens the way again
        self._rule(
            name="Close",
            from_stage_ids=[(6, 0, self.stage_negotiation.ids)],
            to_stage_id=self.stage_contract.id,
        )
        self.team.invalidate_recordset(["regulation_warning"])
        self.assertFalse(self.team.regulation_warning)

    # ------------------------------------------------------------
    # the checklist on the lead form
    # ------------------------------------------------------------

    def test_checklist_shows_what_the_next_stage_requires(self):
        self.stage_qualification.required_field_ids = self._field("phone", "email_from")
        self.stage_qualification.requirements = "Call within the hour."
        lead = self._create_leads(1, email_from="client@example.com")
        lead = lead.with_user(self.user_salesman)
        self.assertEqual(lead.regulation_next_stage_id, self.stage_qualification)
        checklist = lead.regulation_checklist
        self.assertIn("To move to “Qualification”", checklist)
        missing = 'fa-times text-danger" role="img" aria-label="Missing" title="Missing"></i>'
        done = 'fa-check text-success" role="img" aria-label="Done" title="Done"></i>'
        self.assertIn(f"{missing} “Phone” is filled in", checklist)
        self.assertIn(f"{done} “Email” is filled in", checklist)
        self.assertIn("Call within the hour.", checklist)
        lead.phone = "+7 900 000 00 00"
        lead.invalidate_recordset(["regulation_checklist"])  # the form reloads after a save
        self.assertNotIn("fa-times", lead.regulation_checklist)

    def test_checklist_shows_won_criteria_before_winning(self):
        self._rule(
            name="Contract and payment",
            target="won",
            required_domain="[('contract_signed', '=', True)]",
            required_field_ids=[(6, 0, self._field("first_payment_date").ids)],
        )
        lead = self._create_leads(1, stage=self.stage_contract)
        self.assertEqual(lead.regulation_next_stage_id, self.stage_won)
        self.assertIn("Contract and payment", lead.regulation_checklist)
        self.assertIn("“First Payment Date” is filled in", lead.regulation_checklist)

    def test_no_checklist_without_requirements(self):
        lead = self._create_leads(1, stage=self.stage_presentation)
        self.assertFalse(lead.regulation_checklist)

    # ------------------------------------------------------------
    # tasks on entering a stage
    # ------------------------------------------------------------

    def _plan(self):
        call = self.env.ref("mail.mail_activity_data_call")
        email = self.env.ref("mail.mail_activity_data_email")
        return self.env["mail.activity.plan"].create(
            {
                "name": "Qualification call",
                "res_model": "crm.lead",
                "template_ids": [
                    (
                        0,
                        0,
                        {
                            "activity_type_id": call.id,
                            "summary": "Qualify by phone",
                            "responsible_type": "on_demand",
                            "delay_count": 1,
                            "delay_from": "after_plan_date",
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "activity_type_id": email.id,
                            "summary": "Send the brochure",
                            "responsible_type": "other",
                            "responsible_id": self.user_manager.id,
                        },
                    ),
                ],
            }
        )

    def activities(self, lead):
        return self.env["mail.activity"].search(
            [("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)], order="id"
        )

    def test_entering_a_stage_schedules_its_tasks_once_in_the_window(self):
        self.stage_qualification.write(
            {"entry_activity_plan_id": self._plan().id, "entry_activity_window_days": 7}
        )
        lead = self._create_leads(1, user=self.user_salesman_2)
        with self.at("2026-11-02 09:00:00"):
            lead.with_user(self.user_salesman_2).stage_id = self.stage_qualification
        activities = self.activities(lead)
        self.assertEqual(activities.mapped("summary"), ["Qualify by phone", "Send the brochure"])
        # the owner of the lead, or the plan's fixed user
        self.assertEqual(activities.user_id, self.user_salesman_2 | self.user_manager)
        self.assertEqual(
            activities[0].date_deadline, activities[1].date_deadline + timedelta(days=1)
        )
        # back and forth within the window: not again
        with self.at("2026-11-03 09:00:00"):
            lead.stage_id = self.stage_new
        with self.at("2026-11-05 09:00:00"):
            lead.stage_id = self.stage_qualification
        self.assertEqual(len(self.activities(lead)), 2)
        # after the window: again
        with self.at("2026-11-06 09:00:00"):
            lead.stage_id = self.stage_new
        with self.at("2026-11-20 09:00:00"):
            lead.stage_id = self.stage_qualification
        self.assertEqual(len(self.activities(lead)), 4)

    def test_new_lead_gets_the_tasks_of_its_first_stage(self):
        self.stage_new.entry_activity_plan_id = self._plan()
        leads = self._create_leads(3)
        for lead in leads:
            self.assertEqual(len(self.activities(lead)), 2)

    # ------------------------------------------------------------
    # the regulation as a document
    # ------------------------------------------------------------

    def _configure_document(self):
        self.stage_proposal.required_field_ids = self._field("expected_revenue")
        self.stage_proposal.requirements = "Send the proposal by email."
        self.stage_new.no_skip = True
        self._rule(
            name="Won only after contract and first payment",
            target="won",
            required_domain="[('contract_signed', '=', True), ('first_payment_date', '!=', False)]",
            message="Sign the contract and record the first payment.",
            bypass_group_ids=[(6, 0, self.env.ref("sales_team.group_sale_manager").ids)],
        )

    def test_document_is_generated_from_the_configuration(self):
        self._configure_document()
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("crm_regulation.action_report_sales_regulation_html", self.team.ids)[
                0
            ]
            .decode()
        )
        self.assertIn("Sales regulation: ", html)
        # stages in order
        positions = [html.index(stage.name) for stage in self.stages]
        self.assertEqual(positions, sorted(positions))
        self.assertIn("“Expected Revenue” filled in", html)
        self.assertIn("Send the proposal by email.", html)
        self.assertIn("Forward only to Qualification (no skipping)", html)
        # won criteria, in words
        self.assertIn("Won only after contract and first payment", html)
        self.assertIn("“Contract Signed” and “First Payment Date” set", html)
        self.assertIn("Sign the contract and record the first payment.", html)
        self.assertIn("Bypass (logged): Sales / Administrator", html)
        # always in sync: a change of the configuration is in the next print
        self.stage_proposal.required_field_ids = False
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("crm_regulation.action_report_sales_regulation_html", self.team.ids)[
                0
            ]
            .decode()
        )
        self.assertNotIn("“Expected Revenue” filled in", html)

    def test_document_pdf_and_team_button(self):
        self._configure_document()
        content, _report_type = self.env["ir.actions.report"]._render_qweb_pdf(
            "crm_regulation.action_report_sales_regulation", self.team.ids
        )
        self.assertTrue(content)
        action = self.team.with_user(self.user_salesman).action_view_regulation()
        self.assertEqual(action["report_type"], "qweb-html")
        self.assertEqual(action["report_name"], "crm_regulation.report_sales_regulation")
        # a salesperson can read the regulation of the team
        html = (
            self.env["ir.actions.report"]
            .with_user(self.user_salesman)
            ._render_qweb_html("crm_regulation.action_report_sales_regulation_html", self.team.ids)[
                0
            ]
            .decode()
        )
        self.assertIn("Won only after contract and first payment", html)

    def test_document_states_deadlines_and_reasons(self):
        self.team.write(
            {
                "qualification_stage_id": self.stage_qualification.id,
                "qualification_hours": 16,
                "stale_days": 20,
                "stale_auto_lose": True,
                "stale_grace_days": 3,
                "duplicate_policy": "block",
            }
        )
        html = (
            self.env["ir.actions.report"]
            .with_user(self.user_salesman)
            ._render_qweb_html("crm_regulation.action_report_sales_regulation_html", self.team.ids)[
                0
            ]
            .decode()
        )
        self.assertIn("reaches “Qualification” or is disqualified within 16 business hours", html)
        self.assertIn("for 20 days is flagged as stale", html)
        self.assertIn("3 days later, still untouched, it is lost (“No response”)", html)
        self.assertIn("is refused; work continues on the original", html)
        self.assertIn("Spam", html)
        self.assertIn("the original lead required", html)
        self.assertIn("never revived", html)
