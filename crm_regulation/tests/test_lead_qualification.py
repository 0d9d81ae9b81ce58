from datetime import datetime

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .watcher_common import WatcherCommon


@tagged("post_install", "-at_install")
class TestLeadQualification(WatcherCommon):
    """The qualification deadline in business hours: the watcher reminds and escalates
    once, however often it runs, and its query returns only what is still to do."""

    # ------------------------------------------------------------
    # qualification deadline
    # ------------------------------------------------------------

    def test_deadline_in_business_hours(self):
        # Friday 16:00: 2 h on Friday, 4 h Monday morning, 2 h after lunch -> Monday 16:00
        with self.at("2026-11-20 16:00:00"):
            lead = self._create_leads(1)
        self.assertEqual(lead.qualification_deadline, datetime(2026, 11, 23, 16, 0))
        self.assertEqual(lead.qualification_state, "pending")
        # reminder 3 business hours before: Monday 12:00 (the lunch break does not count)
        self.assertEqual(lead.qualification_check_at, datetime(2026, 11, 23, 12, 0))

    def test_evening_entry_counts_from_the_next_working_moment(self):
        with self.at("2026-11-24 21:30:00"):  # Tuesday evening
            lead = self._create_leads(1)
        # Wednesday 9-13 (4 h) + 14-18 (4 h) -> Wednesday 18:00
        self.assertEqual(lead.qualification_deadline, datetime(2026, 11, 25, 18, 0))

    def test_no_deadline_without_setting_or_past_the_stage(self):
        qualified = self._create_leads(1, stage=self.stage_presentation)
        self.assertFalse(qualified.qualification_deadline)
        self.team.qualification_stage_id = False
        lead = self._create_leads(1)
        self.assertFalse(lead.qualification_state)

    def test_watcher_warns_then_escalates_once(self):
        with self.at("2026-11-20 16:00:00"):
            lead = self._create_leads(1)
        self.qualification_watcher("2026-11-23 11:30:00")  # not due yet
        self.assertFalse(self.qualify_activities(lead))
        for _run in range(2):
            self.qualification_watcher("2026-11-23 12:30:00")
            activity = self.qualify_activities(lead)
            self.assertEqual(len(activity), 1)
            self.assertEqual(activity.user_id, self.user_salesman)
            self.assertEqual(lead.qualification_state, "warned")
        self.assertEqual(lead.qualification_check_at, datetime(2026, 11, 23, 16, 0))
        for _run in range(2):
            self.qualification_watcher("2026-11-23 16:30:00")
            self.assertEqual(lead.qualification_state, "overdue")
            self.assertEqual(
                len(self.notes_to(lead, self.user_manager, "qualification deadline")), 1
            )
        self.assertFalse(lead.qualification_check_at)
        self.assertEqual(len(self.qualify_activities(lead)), 1)

    def test_late_watcher_warns_and_escalates_in_one_run(self):
        """A watcher that did not run for days catches up once."""
        with self.at("2026-11-20 16:00:00"):
            lead = self._create_leads(1)
        self.qualification_watcher("2026-11-27 10:00:00")
        self.qualification_watcher("2026-11-27 10:15:00")
        self.assertEqual(lead.qualification_state, "overdue")
        self.assertEqual(len(self.qualify_activities(lead)), 1)
        self.assertEqual(len(self.notes_to(lead, self.user_manager, "qualification deadline")), 1)

    def test_qualified_or_disqualified_in_time(self):
        with self.at("2026-11-20 16:00:00"):
            qualified, disqualified, moved_back = self._create_leads(3)
        with self.at("2026-11-23 10:00:00"):
            qualified.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
            disqualified.with_user(self.user_salesman).action_set_lost(
                lost_reason_id=self.env.ref("crm_regulation.lost_reason_spam").id
            )
            moved_back.with_user(self.user_salesman).write({"stage_id": self.stage_presentation.id})
        for lead in qualified | disqualified | moved_back:
            self.assertEqual(lead.qualification_state, "done")
            self.assertEqual(lead.qualification_date, datetime(2026, 11, 23, 10, 0))
            self.assertFalse(lead.qualification_check_at)
        # moving back to the first stage does not start the clock again
        moved_back.write({"stage_id": self.stage_new.id})
        self.assertEqual(moved_back.qualification_state, "done")
        self.qualification_watcher("2026-11-24 10:00:00")
        self.assertFalse(self.qualify_activities(qualified | disqualified | moved_back))

    def test_watcher_rechecks_after_the_lock(self):
        """Two workers may pick the same due leads: the second sees them done."""
        with self.at("2026-11-20 16:00:00"):
            lead = self._create_leads(1)
        now = datetime(2026, 11, 23, 16, 30)
        lead.sudo()._qualification_notify(now)
        lead.sudo()._qualification_notify(now)
        self.assertEqual(len(self.qualify_activities(lead)), 1)
        self.assertEqual(len(self.notes_to(lead, self.user_manager, "qualification deadline")), 1)

    def test_watcher_finds_due_leads_with_one_indexed_query(self):
        with self.at("2026-11-20 16:00:00"):
            self._create_leads(3)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'crm_lead' "
            "AND indexdef LIKE '%%(qualification_check_at)%%'"
        )
        self.assertIn("WHERE (qualification_check_at IS NOT NULL)", self.env.cr.fetchone()[0])

    def test_settings_refuse_bad_input(self):
        for values in (
            {"stale_days": -1},
            {"qualification_hours": -5},
            {"qualification_hours": 0},
            {"disqualification_alert_points": -1},
            {"stale_auto_lose": True, "stale_lost_reason_id": False},
        ):
            with (
                self.subTest(values=values),
                self.refused("Team “Regulated Team”", ValidationError),
            ):
                self.team.write(values)
