from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time

from odoo import sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from ..models.crm_regulation_violation import CrmRegulationViolation, Violation
from .common import CrmRegulationCommon


class RolloutCommon(CrmRegulationCommon):
    """A rule and a stage requirement that the moves below break, in every mode."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stage_qualification.required_field_ids = cls._field("phone")
        cls.rule = cls._rule(
            name="Budget before the proposal",
            to_stage_id=cls.stage_proposal.id,
            required_domain="[('expected_revenue', '>', 0)]",
        )
        cls.warn_rule = cls._rule(
            name="Email before the presentation",
            to_stage_id=cls.stage_presentation.id,
            severity="warn",
            required_field_ids=[(6, 0, cls._field("email_from").ids)],
        )

    def mode(self, mode, team=None):
        (team or self.team).regulation_mode = mode

    def log(self, leads=None, **domain):
        Log = self.env["crm.regulation.violation"]
        conditions = [(key, "=", value) for key, value in domain.items()]
        if leads is not None:
            conditions.append(("lead_id", "in", leads.ids))
        return Log.search(conditions, order="id")

    def move(self, leads, stage, user=None):
        return leads.with_user(user or self.user_salesman).write({"stage_id": stage.id})


class TestRegulationModes(RolloutCommon):
    """Off, audit and enforce on the paths of crm.lead, and what each logs."""

    def test_enforce_refuses_and_logs_the_refusal(self):
        self.mode("enforce")
        leads = self._create_leads(2)
        try:
            self.move(leads, self.stage_qualification)
        except UserError as error:
            self.assertIn("“Phone” is empty", str(error))
        else:
            self.fail("the move should be refused")
        # (in a test the caller's transaction is not rolled back: the refusal's rows, in
        # a transaction of their own in production, are here in the test's)
        rows = self.log(leads)
        self.assertEqual(len(rows), 2)
        self.assertEqual(set(rows.mapped("outcome")), {"refused"})
        self.assertEqual(set(rows.mapped("mode")), {"enforce"})
        self.assertEqual(set(rows.mapped("source")), {"stage"})
        self.assertEqual(rows.team_id, self.team)
        self.assertEqual(rows.user_id, self.user_salesman)
        self.assertEqual(rows.author_id, self.user_salesman)
        self.assertEqual(rows.mapped("lead_name"), ["Lead 0", "Lead 1"])
        self.assertIn("“Phone” is empty", rows[0].requirement)
        self.assertEqual(set(rows.mapped("path")), {"automation"})  # no HTTP request here

    def test_audit_moves_and_logs_what_would_be_refused(self):
        self.mode("audit")
        leads = self._create_leads(2, stage=self.stage_presentation)
        leads[0].expected_revenue = 100
        self.move(leads, self.stage_proposal)
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_proposal})
        row = self.log(leads, outcome="would_refuse")
        self.assertEqual(len(row), 1)
        self.assertRecordValues(
            row,
            [
                {
                    "lead_id": leads[1].id,
                    "rule_id": self.rule.id,
                    "source": "rule",
                    "mode": "audit",
                    "outcome": "would_refuse",
                    "team_id": self.team.id,
                    "user_id": self.user_salesman.id,
                }
            ],
        )
        # no refusal, no chatter note for a would-be refusal
        self.assertFalse(leads[1].regulation_bypass_count)

    def test_off_applies_nothing(self):
        self.mode("off")
        plan = self.env["mail.activity.plan"].create(
            {
                "name": "Qualify",
                "res_model": "crm.lead",
                "template_ids": [
                    (0, 0, {"activity_type_id": self.env.ref("mail.mail_activity_data_call").id})
                ],
            }
        )
        self.stage_qualification.entry_activity_plan_id = plan
        self.stage_qualification.sla_hours = 8
        leads = self._create_leads(2)
        self.move(leads, self.stage_qualification)
        self.move(leads, self.stage_proposal)
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_proposal})
        self.assertFalse(self.log(leads))
        self.assertFalse(leads.activity_ids, "no entry task in a team without regulation")
        self.assertFalse(any(leads.mapped("sla_deadline")))
        # the stage history is kept: it is a record of facts, not a requirement
        self.assertEqual(len(self.history(leads)), 6)
        self.assertFalse(leads[0].regulation_checklist)

    def test_warnings_and_bypasses_are_logged_and_noted(self):
        self.mode("audit")
        manager_rule = self._rule(
            name="Contract before the negotiation",
            to_stage_id=self.stage_negotiation.id,
            required_field_ids=[(6, 0, self._field("contract_date").ids)],
            bypass_group_ids=[(6, 0, self.env.ref("sales_team.group_sale_manager").ids)],
        )
        lead = self._create_leads(1, stage=self.stage_qualification, phone="1")
        self.move(lead, self.stage_presentation)
        lead.expected_revenue = 10
        self.move(lead, self.stage_proposal)
        self.move(lead, self.stage_negotiation, user=self.user_manager)
        rows = self.log(lead)
        self.assertEqual(rows.mapped("outcome"), ["warned", "bypassed"])
        self.assertEqual(rows.mapped("rule_id"), self.warn_rule | manager_rule)
        self.assertEqual(rows[1].author_id, self.user_manager)
        self.assertEqual(lead.regulation_bypass_count, 1)
        warning = self.env.ref("crm_regulation.mt_regulation_warning")
        self.assertTrue(lead.message_ids.filtered(lambda m: m.subtype_id == warning))

    def test_a_rule_of_teams_in_different_modes_applies_per_lead(self):
        other = self.env["crm.team"].create(
            {
                "name": "Pilot Team",
                "regulation_mode": "audit",
                "member_ids": [(6, 0, self.user_salesman_2.ids)],
            }
        )
        self.rule.team_ids = self.team | other
        self.mode("enforce")
        enforced = self._create_leads(1, stage=self.stage_presentation)
        piloted = self._create_leads(
            1, user=self.user_salesman_2, stage=self.stage_presentation, team_id=other.id
        )
        with self.refused("conditions of “Budget before the proposal”"):
            self.move(enforced | piloted, self.stage_proposal, user=self.user_manager)
        self.move(piloted, self.stage_proposal, user=self.user_manager)
        self.assertEqual(piloted.stage_id, self.stage_proposal)
        self.assertEqual(self.log(piloted).outcome, "would_refuse")

    def test_a_move_to_a_laxer_team_is_judged_by_the_stricter_mode(self):
        self.mode("enforce")
        lax = self.env["crm.team"].create({"name": "Lax", "regulation_mode": "off"})
        lead = self._create_leads(1)
        with self.refused("“Phone” is empty"):
            lead.write({"team_id": lax.id, "stage_id": self.stage_qualification.id})
        self.assertEqual(lead.team_id, self.team)

    def test_the_lost_dialog_refusals_are_logged(self):
        self.mode("enforce")
        lead = self._create_leads(1)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create({"lead_ids": [(6, 0, lead.ids)]})
        )
        try:
            wizard.action_lost_reason_apply()
        except UserError as error:  # (assertRaises would roll the log back with the call)
            self.assertEqual(str(error), "Choose a reason.")
        else:
            self.fail("the dialog should refuse a loss without a reason")
        row = self.log(lead)
        self.assertEqual(
            (row.source, row.outcome, row.requirement), ("closing", "refused", "Choose a reason.")
        )

    def test_leads_without_a_team_follow_the_company(self):
        lead = self._create_leads(1, team_id=False)
        self.company.crm_regulation_mode = "audit"
        self.move(lead, self.stage_qualification)
        self.assertEqual(self.log(lead).mode, "audit")
        self.company.crm_regulation_mode = "enforce"
        lead2 = self._create_leads(1, team_id=False)
        with self.refused("“Phone” is empty"):
            self.move(lead2, self.stage_qualification)

    def test_built_in_loss_requirements_follow_the_mode(self):
        self.mode("audit")
        lead = self._create_leads(1)
        wizard = (
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .create({"lead_ids": [(6, 0, lead.ids)]})
        )
        wizard.action_lost_reason_apply()
        self.assertEqual(lead.won_status, "lost")
        row = self.log(lead)
        self.assertEqual((row.source, row.outcome), ("closing", "would_refuse"))
        self.assertIn("a lost reason is required", row.requirement)
        # back to work without a reason: not refused in audit (Odoo's own "Restore")
        lead.with_user(self.user_salesman).action_unarchive()
        self.assertTrue(lead.active)
        self.assertIn("returns to work with a reason", self.log(lead)[-1].requirement)
        self.mode("enforce")
        lead2 = self._create_leads(1)
        with self.refused("Choose a reason."):
            self.env["crm.lead.lost"].with_user(self.user_salesman).create(
                {"lead_ids": [(6, 0, lead2.ids)]}
            ).action_lost_reason_apply()

    def test_duplicate_policy_follows_the_mode(self):
        self.team.duplicate_policy = "block"
        self._create_leads(1, email_from="same@example.com")
        self.mode("audit")
        copy = self._create_leads(1, email_from="same@example.com")
        self.assertEqual(self.log(copy).mapped("outcome"), ["would_refuse"])
        self.assertEqual(self.log(copy).source, "duplicate")
        self.mode("off")
        other = self._create_leads(1, email_from="same@example.com")
        self.assertFalse(self.log(other))
        self.mode("enforce")
        with self.refused("These leads already exist"):
            self._create_leads(1, email_from="same@example.com")

    def test_import_and_automation_paths(self):
        self.mode("audit")
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        result = Lead.with_context(import_file=True).load(
            ["name", "team_id/.id", "stage_id/.id"],
            [["Imported", str(self.team.id), str(self.stage_qualification.id)]],
        )
        imported = Lead.browse(result["ids"])
        self.assertEqual(imported.stage_id, self.stage_qualification)
        self.assertEqual(self.log(imported).path, "import")
        action = self._stage_action(self.stage_qualification)
        lead = self._create_leads(1)
        action.with_context(active_model="crm.lead", active_id=lead.id, active_ids=lead.ids).run()
        self.assertEqual(self.log(lead).path, "automation")

    def test_unknown_mode_is_a_clear_error(self):
        with self.assertRaises(ValidationError) as caught:
            self.team.regulation_mode = "strict"
        self.assertIn("“strict” is not a regulation mode", str(caught.exception))
        with self.assertRaises(ValidationError):
            self.company.crm_regulation_mode = "strict"

    def test_audit_costs_no_more_queries_than_enforce(self):
        """The same move of 50 leads in both modes; in audit, 10 of them would be refused
        (logged in one statement)."""
        audited = self._create_leads(50, stage=self.stage_presentation, expected_revenue=5)
        audited[:10].expected_revenue = 0
        enforced = self._create_leads(50, stage=self.stage_presentation, expected_revenue=5)
        counts = {}
        for mode, leads in (("audit", audited), ("enforce", enforced)):
            self.mode(mode)
            self.env["crm.regulation.rule"]._get_regulation()  # the snapshot, read ahead
            self.env.flush_all()
            self.env.invalidate_all()
            queries = []
            with patch.object(type(self.env.cr), "execute", self._spy(queries)):
                self.move(leads, self.stage_proposal)
                self.env.flush_all()
            counts[mode] = len(queries)
        self.assertEqual(len(self.log(audited, outcome="would_refuse")), 10)
        # the log: one INSERT, and the names of the leads it names
        self.assertLessEqual(counts["audit"], counts["enforce"] + 2, counts)

    def _spy(self, queries):
        execute = type(self.env.cr).execute

        def spy(cr, query, params=None, log_exceptions=True):
            queries.append(str(query))
            return execute(cr, query, params, log_exceptions)

        return spy

    def test_a_refused_batch_is_logged_in_one_statement(self):
        self.mode("enforce")
        leads = self._create_leads(1000)
        calls = []
        record_sql = CrmRegulationViolation._record_sql

        def counting(model, cr, violations):
            result = record_sql(model, cr, violations)
            calls.append(cr.rowcount)
            return result

        with patch.object(CrmRegulationViolation, "_record_sql", counting):
            with self.assertRaises(UserError):
                self.move(leads, self.stage_qualification)
        self.assertEqual(calls, [1000], "one INSERT of 1,000 rows")


class TestRefusalLogTransaction(RolloutCommon):
    """The log of a refused call goes in a transaction of its own: it takes no lock the
    caller holds, and a lead that the caller created (invisible to it) is logged by name."""

    def test_separate_transaction_neither_waits_nor_sees_the_callers_rows(self):
        committed = self.env["crm.lead"].search([("id", "<", self._create_leads(1).id)], limit=1)
        if not committed:
            self.skipTest("no lead committed before the test in this database")
        created = self._create_leads(1)  # in the test's transaction: invisible elsewhere
        # the caller locks a committed lead the way a watcher's batch does
        self.env.cr.execute("SELECT id FROM crm_lead WHERE id = %s FOR UPDATE", [committed.id])
        Log = self.env["crm.regulation.violation"]
        violations = [
            Violation(
                lead_id=lead.id,
                lead_name=lead.name,
                team_id=None,
                user_id=None,
                company_id=None,
                rule_id=None,
                source="stage",
                text="“Phone” is empty",
                mode="enforce",
                outcome="refused",
            )
            for lead in committed | created
        ]
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SET LOCAL lock_timeout = '5s'")  # fail, not hang, if it waited
            Log._record_sql(other, violations)
            other.execute(
                "SELECT lead_id, lead_name FROM crm_regulation_violation "
                "WHERE requirement = '“Phone” is empty' ORDER BY id DESC LIMIT 2"
            )
            rows = sorted(other.fetchall(), key=lambda row: row[1])
            other.rollback()  # leave nothing behind
        self.assertEqual(rows, sorted([(None, committed.name), (None, created.name)]))


class TestRolloutOfATeam(RolloutCommon):
    def test_compliance_of_the_last_four_weeks_and_enforce_button(self):
        self.mode("audit")
        leads = self._create_leads(4, stage=self.stage_presentation)
        leads[:3].expected_revenue = 10
        self.move(leads, self.stage_proposal)
        self.team.invalidate_recordset()
        self.assertEqual(self.team.regulation_breach_count, 1)
        self.assertEqual(self.team.regulation_attempt_count, 8)  # 4 created + 4 moved
        self.assertAlmostEqual(self.team.regulation_compliance, 87.5)
        # switching is tracked (on a team of the database: Odoo tracks no change of a
        # record created in the same transaction)
        existing = self.env.ref("sales_team.team_sales_department")
        existing.regulation_mode = "audit"
        existing.with_context(tracking_disable=False).with_user(
            self.user_manager
        ).action_regulation_enforce()
        self.env.cr.precommit.run()
        existing.invalidate_recordset()
        self.assertEqual(existing.regulation_mode, "enforce")
        tracked = existing.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "regulation_mode"
        )
        self.assertEqual(tracked[:1].old_value_char, "Audit")
        self.assertEqual(tracked[:1].new_value_char, "Enforce")
        action = self.team.action_view_compliance()
        self.assertEqual(self.env[action["res_model"]].search(action["domain"]), self.log(leads))

    def test_install_defaults(self):
        """Teams that existed before the addon start in audit (the demo team enforces),
        with a note on what to do next; new teams take the company's default."""
        existing = self.env.ref("sales_team.team_sales_department")
        demo = self.env.ref("crm_regulation.demo_team_residential", raise_if_not_found=False)
        # (the test databases install crm, then the addon)
        self.assertEqual(existing.regulation_mode, "audit")
        self.assertIn("installed in audit mode", " ".join(existing.message_ids.mapped("body")))
        if demo:
            self.assertEqual(demo.regulation_mode, "enforce")
        self.company.crm_regulation_mode = "off"
        self.assertEqual(self.env["crm.team"].create({"name": "New"}).regulation_mode, "off")

    def test_rows_inserted_without_the_addon_get_its_defaults(self):
        self.env.cr.execute(
            'INSERT INTO crm_lost_reason (name, active) VALUES (\'{"en_US": "Raw"}\', true) '
            "RETURNING category, requires_comment"
        )
        self.assertEqual(self.env.cr.fetchone(), ("loss", None))  # (None reads False)
        self.env.cr.execute(
            'INSERT INTO crm_stage (name, sequence) VALUES (\'{"en_US": "Raw"}\', 1) '
            "RETURNING sla_notify, sla_action, sla_warning_ratio"
        )
        self.assertEqual(self.env.cr.fetchone(), ("both", "activity", 0.8))
        self.env.cr.execute(
            """SELECT column_name, column_default FROM information_schema.columns
                WHERE table_name = 'crm_team'
                  AND column_name IN ('regulation_mode', 'duplicate_policy', 'stale_days')
             ORDER BY column_name"""
        )
        self.assertEqual(
            self.env.cr.fetchall(),
            [
                ("duplicate_policy", "'none'::character varying"),
                ("regulation_mode", "'audit'::character varying"),
                ("stale_days", "30"),
            ],
        )


class TestHeadsOfSalesOwnTheirTeamsRegulation(RolloutCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.head = mail_new_test_user(
            cls.env,
            login="reg_head",
            name="Hanna Head",
            groups="crm_regulation.group_head_of_sales",
        )
        cls.team.user_id = cls.head
        cls.sub_team = cls.env["crm.team"].create({"name": "Sub", "parent_id": cls.team.id})
        cls.other_team = cls.env["crm.team"].create(
            {"name": "Elsewhere", "member_ids": [(6, 0, cls.user_salesman_2.ids)]}
        )
        stage = {"to_stage_id": cls.stage_new.id}
        cls.other_rule = cls._rule(name="Other", team_ids=[(6, 0, cls.other_team.ids)], **stage)
        cls.shared_rule = cls._rule(
            name="Shared", team_ids=[(6, 0, (cls.team | cls.other_team).ids)], **stage
        )
        cls.global_rule = cls._rule(name="Everyone", team_ids=[(5, 0, 0)], **stage)

    def test_edits_the_rules_settings_and_slas_of_their_tree(self):
        Rule = self.env["crm.regulation.rule"].with_user(self.head)
        self.rule.with_user(self.head).severity = "warn"
        created = Rule.create(
            {"name": "Sub rule", "team_ids": [(6, 0, self.sub_team.ids)], "target": "won"}
        )
        created.unlink()
        team = self.team.with_user(self.head)
        team.write({"regulation_mode": "enforce", "stale_days": 10})
        team.write({"sla_override_ids": [(0, 0, {"stage_id": self.stage_new.id, "sla_hours": 4})]})
        self.assertEqual(self.team.sla_override_ids.sla_hours, 4)
        self.sub_team.with_user(self.head).duplicate_policy = "warn"

    def test_their_changes_are_tracked(self):
        rule = self.env.ref("crm_regulation.demo_rule_won", raise_if_not_found=False)
        if not rule:
            self.skipTest("no demo data (the rule must exist before the test's transaction)")
        rule.team_ids.user_id = self.head
        rule.with_user(self.head).with_context(tracking_disable=False).severity = "warn"
        self.env.cr.precommit.run()
        tracking = rule.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "severity"
        ).sorted("id")[-1:]
        self.assertEqual(tracking.new_value_char, "Warn")
        self.assertEqual(rule.write_uid, self.head)

    def test_nothing_outside_their_tree(self):
        for rule in (self.other_rule, self.shared_rule, self.global_rule):
            with self.subTest(rule=rule.name), self.assertRaises(AccessError):
                rule.with_user(self.head).severity = "warn"
        with self.assertRaises(AccessError):
            self.env["crm.regulation.rule"].with_user(self.head).create(
                {"name": "Theirs", "team_ids": [(6, 0, self.other_team.ids)], "target": "won"}
            )
        with self.assertRaises(AccessError):
            self.env["crm.regulation.rule"].with_user(self.head).create(
                {"name": "Everyone's", "target": "won"}
            )
        with self.assertRaises(AccessError):
            self.other_team.with_user(self.head).regulation_mode = "off"
        with self.assertRaises(AccessError):
            self.team.with_user(self.head).name = "Renamed"
        with self.assertRaises(AccessError):
            self.stage_new.with_user(self.head).no_skip = True
        with self.assertRaises(AccessError):
            self.env["crm.stage.sla"].with_user(self.head).create(
                {"team_id": self.other_team.id, "stage_id": self.stage_new.id, "sla_hours": 1}
            )

    def test_no_widening_beyond_their_tree(self):
        """Odoo checks record rules on the records as they were: what a rule or an SLA is
        given is checked too."""
        rule = self.rule.with_user(self.head)
        for command in ([(4, self.other_team.id)], [(5, 0, 0)], [(6, 0, self.other_team.ids)]):
            with self.subTest(command=command), self.assertRaises(AccessError):
                rule.write({"team_ids": command})
        sla = self.env["crm.stage.sla"].create(
            {"team_id": self.team.id, "stage_id": self.stage_new.id, "sla_hours": 2}
        )
        with self.assertRaises(AccessError):
            sla.with_user(self.head).team_id = self.other_team
        with self.assertRaises(AccessError):
            self.team.with_user(self.head).write(
                {"sla_override_ids": [(1, sla.id, {"team_id": self.other_team.id})]}
            )
        # an "All Documents" head of sales edits no other team either
        self.head.group_ids = [(4, self.env.ref("sales_team.group_sale_salesman_all_leads").id)]
        with self.assertRaises(AccessError):
            self.other_team.with_user(self.head).regulation_mode = "enforce"

    def test_they_raise_the_mode_only(self):
        team = self.team.with_user(self.head)
        self.team.regulation_mode = "off"
        team.regulation_mode = "audit"
        team.regulation_mode = "enforce"
        with self.assertRaises(AccessError):
            team.regulation_mode = "audit"
        self.team.with_user(self.user_manager).regulation_mode = "audit"  # an administrator

    def test_compliance_log_within_their_scope(self):
        self.mode("audit")
        self.mode("audit", self.other_team)
        mine = self._create_leads(1)
        theirs = self._create_leads(1, user=self.user_salesman_2, team_id=self.other_team.id)
        self.move(mine | theirs, self.stage_qualification, user=self.env.user)
        visible = self.env["crm.regulation.violation"].with_user(self.head).search([])
        self.assertIn(mine, visible.lead_id)
        self.assertNotIn(theirs, visible.lead_id)


class TestScoringLeavesDisqualificationsOut(CrmRegulationCommon):
    """Predictive lead scoring learns from won and lost leads: not from disqualified ones."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("crm.pls_start_date", "2000-01-01")
        cls.env["ir.config_parameter"].sudo().set_param("crm.pls_fields", "country_id")
        cls.spam = cls.env.ref("crm_regulation.lost_reason_spam")
        cls.country = cls.env.ref("base.be")

    def frequency(self):
        return self.env["crm.lead.scoring.frequency"].search(
            [
                ("team_id", "=", self.team.id),
                ("variable", "=", "country_id"),
                ("value", "=", str(self.country.id)),
            ]
        )

    def lost_count(self):
        return self.frequency().lost_count if self.frequency() else 0

    def test_frequencies_before_and_after(self):
        leads = self._create_leads(4, country_id=self.country.id)
        leads[3].action_set_lost(lost_reason_id=self.lost_reason.id)  # the frequency row
        before = self.lost_count()
        self.assertEqual(before, 1.1)  # (+ 0.1: crm's smoothing)
        leads[0].action_set_lost(lost_reason_id=self.spam.id)
        self.assertEqual(self.lost_count(), before, "a disqualification is not learnt")
        leads[1].action_set_lost(lost_reason_id=self.lost_reason.id)
        self.assertEqual(self.lost_count(), before + 1, "a loss is")
        # a lost lead's reason turns out a disqualification: unlearnt; and back
        leads[1].lost_reason_id = self.spam
        self.assertEqual(self.lost_count(), before)
        leads[1].lost_reason_id = self.lost_reason
        self.assertEqual(self.lost_count(), before + 1)
        # a disqualified lead back to work takes nothing from the frequencies
        leads[0].action_return_to_work("Not spam after all")
        self.assertEqual(self.lost_count(), before + 1)
        # the full rebuild (the scoring cron) leaves them out too
        self.env["crm.lead"]._rebuild_pls_frequency_table()
        leads[2].action_set_lost(lost_reason_id=self.spam.id)
        self.env["crm.lead"]._rebuild_pls_frequency_table()
        self.assertEqual(self.lost_count(), 2.1)  # leads 1 and 3 only

    def test_scoring_learnt_once_at_the_end_of_the_write(self):
        """crm learns a loss in the middle of the write; the regulation makes that update at
        its end (the scoring rows, the hottest of a busy pipeline, are locked for less
        time): once, with the same values, nothing when the write is refused."""
        leads = self._create_leads(3, country_id=self.country.id)
        leads[2].action_set_lost(lost_reason_id=self.lost_reason.id)  # the frequency row
        before = self.lost_count()
        History = type(self.env["crm.lead.stage.history"])
        seen = []
        original = History._sync_leads

        def sync_leads(history, *args, **kwargs):
            seen.append(self.lost_count())  # the stays are the regulation's last work
            return original(history, *args, **kwargs)

        with patch.object(History, "_sync_leads", sync_leads):
            leads[0].action_set_lost(lost_reason_id=self.lost_reason.id)
        # (the archive, then the loss: two writes, two syncs of the stays)
        self.assertEqual(set(seen), {before}, "not yet learnt while the regulation works")
        self.assertEqual(self.lost_count(), before + 1, "learnt once, at the end")
        # a loss the regulation refuses (no reason) is not learnt either
        self.team.sudo().regulation_mode = "enforce"
        with self.assertRaises(UserError), self.env.cr.savepoint():
            leads[1].action_set_lost()
        self.assertEqual(self.lost_count(), before + 1)

    def test_pipeline_analysis_shows_lost_and_disqualified_apart(self):
        view = self.env.ref("crm.crm_opportunity_report_view_search")
        arch = self.env["crm.lead"].get_view(view.id, "search")["arch"]
        for name in ("filter_outcome_lost", "filter_outcome_disqualified", "group_outcome"):
            self.assertIn(f'name="{name}"', arch)
        leads = self._create_leads(2)
        leads[0].action_set_lost(lost_reason_id=self.spam.id)
        leads[1].action_set_lost(lost_reason_id=self.lost_reason.id)
        groups = (
            self.env["crm.lead"]
            .with_context(active_test=False)
            ._read_group([("id", "in", leads.ids)], ["outcome"], ["__count"])
        )
        self.assertEqual(dict(groups), {"disqualified": 1, "lost": 1})


class TestRoleMatrixAtInstall(TransactionCase):
    """Until an administrator gives the addon's roles or switches the setting on, the
    users of Odoo's own Sales groups keep Odoo's rights."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")
        cls.company.crm_role_matrix_for_sales_groups = False
        cls.salesman = mail_new_test_user(
            cls.env,
            login="stock_salesman",
            groups="sales_team.group_sale_salesman,base.group_allow_export",
        )
        Team = cls.env["crm.team"]
        cls.own_team = Team.create({"name": "Own", "member_ids": [(6, 0, cls.salesman.ids)]})
        cls.far_team = Team.create({"name": "Far", "member_pick_unassigned": False})
        cls.far_lead = cls.env["crm.lead"].create(
            {"name": "Unassigned, far team", "team_id": cls.far_team.id, "user_id": False}
        )

    def test_odoo_salesperson_keeps_odoo_rights(self):
        Lead = self.env["crm.lead"].with_user(self.salesman)
        self.assertIn(self.far_lead, Lead.search([]))  # Odoo's "Personal Leads"
        own = Lead.create({"name": "Mine", "team_id": self.own_team.id})
        self.assertTrue(own.export_data(["name"])["datas"])
        own.user_id = self.env.user  # Odoo lets a salesperson reassign

    @freeze_time("2026-11-23 10:00:00")
    def test_a_write_grant_does_not_make_a_lead_theirs(self):
        colleague = mail_new_test_user(
            self.env, login="stock_colleague", groups="sales_team.group_sale_salesman"
        )
        lead = self.env["crm.lead"].create(
            {"name": "Colleague's", "user_id": colleague.id, "team_id": self.own_team.id}
        )
        request = (
            self.env["crm.access.request"]
            .with_user(self.salesman)
            .create(
                {
                    "reason": "Covering for a colleague",
                    "date_end": datetime(2026, 11, 30, 18),
                    "lead_ids": [(6, 0, lead.ids)],
                    "access_mode": "write",
                }
            )
        )
        manager = mail_new_test_user(
            self.env, login="stock_manager", groups="sales_team.group_sale_manager"
        )
        request.with_user(manager).action_approve(request.revision)
        lead.with_user(self.salesman).name = "Edited while covering"
        with self.assertRaises(AccessError):
            lead.with_user(self.salesman).user_id = self.salesman

    def test_setting_on_applies_the_matrix(self):
        self.company.crm_role_matrix_for_sales_groups = True
        Lead = self.env["crm.lead"].with_user(self.salesman)
        self.assertNotIn(self.far_lead, Lead.search([]))
        own = Lead.create({"name": "Mine", "team_id": self.own_team.id})
        with self.assertRaises(AccessError):
            own.user_id = self.env.user

    def test_odoo_rules_stay_odoo_s_until_the_matrix_is_in_use(self):
        Users = type(self.env["res.users"])
        personal = self.env.ref("crm.crm_rule_personal_lead")
        granted = self.env.ref("crm_regulation.crm_lead_rule_granted_read")
        Rule = self.env["ir.rule"]
        contacts = self.env.ref("crm_regulation.res_partner_rule_crm_regulation")
        with patch.object(Users, "_crm_regulation_matrix_in_use", lambda self: False):
            Rule._crm_regulation_sync_stock_rules()
            self.assertEqual(
                personal.domain_force, "['|',('user_id','=',user.id),('user_id','=',False)]"
            )
            # no rule of the role matrix on contacts, followers or messages either
            self.assertFalse(contacts.active)
            Partner = self.env["res.partner"].with_user(self.salesman)
            self.assertEqual(Partner.search_count([]), self.env["res.partner"].search_count([]))
        with patch.object(Users, "_crm_regulation_matrix_in_use", lambda self: True):
            Rule._crm_regulation_sync_stock_rules()
            self.assertEqual(personal.domain_force, "[('regulation_scope', '=', 'own')]")
            self.assertTrue(contacts.active)
        # the temporary accesses' rules: active while one is approved
        self.env["crm.access.request"].search([("state", "=", "approved")]).state = "expired"
        Rule._crm_regulation_sync_stock_rules()
        self.assertFalse(granted.active)

    def test_a_role_of_the_addon_applies_the_matrix(self):
        self.salesman.group_ids = [(4, self.env.ref("crm_regulation.group_salesperson").id)]
        Lead = self.env["crm.lead"].with_user(self.salesman)
        self.assertNotIn(self.far_lead, Lead.search([]))


@tagged("post_install", "-at_install")
class TestModesOverTheWire(RolloutCommon, HttpCase):
    """The kanban (the web client's call) and the external API, in audit and enforce."""

    def test_kanban_and_api_paths(self):
        self.mode("audit")
        leads = self._create_leads(2)
        self.authenticate("reg_salesman", "reg_salesman")
        self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.lead/write",
            {
                "model": "crm.lead",
                "method": "write",
                "args": [leads[:1].ids, {"stage_id": self.stage_qualification.id}],
                "kwargs": {},
            },
        )
        self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.user_salesman.id,
            "reg_salesman",
            "crm.lead",
            "write",
            [leads[1:].ids, {"stage_id": self.stage_qualification.id}],
        )
        self.assertEqual(self.log(leads[:1]).path, "ui")
        self.assertEqual(self.log(leads[1:]).path, "api")
        self.mode("enforce")
        lead = self._create_leads(1)
        with self.assertRaises(Exception) as caught, mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/crm.lead/write",
                {
                    "model": "crm.lead",
                    "method": "write",
                    "args": [lead.ids, {"stage_id": self.stage_qualification.id}],
                    "kwargs": {},
                },
            )
        self.assertIn("UserError", str(caught.exception.args))
        lead.invalidate_recordset()
        self.assertEqual(lead.stage_id, self.stage_new)


@tagged("post_install", "-at_install")
class TestRolloutTour(RolloutCommon, HttpCase):
    def test_enforce_from_the_team_form(self):
        self.mode("audit")
        leads = self._create_leads(1)
        self.move(leads, self.stage_qualification)  # a would-be refusal
        self.start_tour(
            f"/odoo/action-sales_team.crm_team_action_config/{self.team.id}",
            "crm_regulation_rollout_tour",
            login="reg_manager",
        )
        self.team.invalidate_recordset()
        self.assertEqual(self.team.regulation_mode, "enforce")
