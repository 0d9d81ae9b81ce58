from datetime import datetime

from odoo.tests import tagged

from .watcher_common import WatcherCommon


@tagged("post_install", "-at_install")
class TestLeadStale(WatcherCommon):
    """Stale leads leave the funnel: flagged once, unflagged when touched, lost after the
    grace period where the team asks for it, reversibly."""

    # ------------------------------------------------------------
    # stale leads
    # ------------------------------------------------------------

    def stale_team(self, auto_lose=True):
        self.team.write(
            {
                "qualification_stage_id": False,
                "stale_days": 10,
                "stale_grace_days": 5,
                "stale_auto_lose": auto_lose,
                "stale_lost_reason_id": self.no_response.id,
            }
        )

    def test_stale_flag_once_and_unflag_when_touched(self):
        self.stale_team(auto_lose=False)
        with self.at("2026-11-02 10:00:00"):
            idle, planned, discussed = self._create_leads(3)
        with self.at("2026-11-05 10:00:00"):
            planned.activity_schedule(
                "mail.mail_activity_data_call",
                date_deadline="2026-11-30",
                user_id=self.user_salesman.id,
            )
            discussed.message_post(body="Called, will decide in December", message_type="comment")
        for _run in range(2):
            self.stale_watcher("2026-11-13 11:00:00")
            self.assertEqual(idle.stale_date, datetime(2026, 11, 13, 11, 0))
            self.assertEqual(len(self.notes_to(idle, self.user_salesman, "This lead is stale")), 1)
        self.assertFalse(planned.stale_date)
        self.assertFalse(discussed.stale_date)
        # the salesperson plans a call: the next run unflags
        with self.at("2026-11-14 09:00:00"):
            idle.activity_schedule("mail.mail_activity_data_call", user_id=self.user_salesman.id)
        self.stale_watcher("2026-11-14 10:00:00")
        self.assertFalse(idle.stale_date)
        # auto-lose is off: nothing is lost, however long it waits
        self.stale_watcher("2026-12-31 10:00:00")
        self.assertTrue(idle.active)

    def test_stage_move_unflags_at_once(self):
        self.stale_team()
        with self.at("2026-11-02 10:00:00"):
            lead = self._create_leads(1)
        self.stale_watcher("2026-11-13 11:00:00")
        self.assertTrue(lead.stale_date)
        lead.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
        self.assertFalse(lead.stale_date)

    def test_stale_lead_lost_after_grace_once_and_reversibly(self):
        self.stale_team()
        with self.at("2026-11-02 10:00:00"):
            lead, touched = self._create_leads(2)
        self.stale_watcher("2026-11-13 11:00:00")
        with self.at("2026-11-16 09:00:00"):
            touched.message_post(body="Customer answered", message_type="comment")
        self.stale_watcher("2026-11-17 11:00:00")  # grace not over yet
        self.assertTrue(lead.active)
        self.assertFalse(touched.stale_date)
        for _run in range(2):
            self.stale_watcher("2026-11-18 12:00:00")
            self.assertEqual(lead.outcome, "lost")
            self.assertEqual(lead.lost_reason_id, self.no_response)
            self.assertIn("Lost automatically", lead.lost_feedback)
            self.assertEqual(len(self.notes_to(lead, self.user_salesman, "Lost automatically")), 1)
        self.assertTrue(touched.active)
        self.assertEqual(lead.loss_review_state, "to_review")
        # reversible: back to work, and not stale again at once
        with self.at("2026-11-19 09:00:00"):
            lead.with_user(self.user_salesman).action_return_to_work("The customer called back")
        self.assertTrue(lead.active)
        self.assertFalse(lead.stale_date)
        self.stale_watcher("2026-11-20 10:00:00")
        self.assertFalse(lead.stale_date)

    def test_stale_loss_refused_by_the_regulation_stays_open(self):
        self.stale_team()
        self._rule(
            name="Losses need the customer's email",
            target="lost",
            required_field_ids=[(6, 0, self._field("email_from").ids)],
        )
        with self.at("2026-11-02 10:00:00"):
            lead = self._create_leads(1)
        self.stale_watcher("2026-11-13 11:00:00")
        self.stale_watcher("2026-11-18 12:00:00")
        self.assertTrue(lead.active)
        self.assertEqual(lead.stale_date, datetime(2026, 11, 18, 12, 0))  # grace starts again
        self.assertEqual(
            len(self.notes_to(lead, self.user_salesman, "could not be lost automatically")), 1
        )
