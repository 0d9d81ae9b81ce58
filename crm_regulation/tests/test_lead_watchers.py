from datetime import datetime

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestLeadWatchers(CrmRegulationCommon):
    """Qualification deadline in business hours and the stale-lead exit: the watchers
    notify once, however often they run, and each of their queries returns only what is
    still to do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Monday to Friday, 9:00-13:00 and 14:00-18:00 UTC
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Sales hours",
                "tz": "UTC",
                "attendance_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"{day} {start}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": end,
                        },
                    )
                    for day in range(5)
                    for start, end in ((9, 13), (14, 18))
                ],
            }
        )
        cls.team.write(
            {
                "resource_calendar_id": cls.calendar.id,
                "qualification_stage_id": cls.stage_qualification.id,
                "qualification_hours": 8,
                "qualification_warning_hours": 3,
                "stale_days": 0,
            }
        )
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")
        cls.qualify = cls.env.ref("crm_regulation.mail_activity_type_qualify")

    def run_cron(self, xmlid, when):
        with self.at(when), self.enter_registry_test_mode():
            self.env.ref(xmlid).sudo().method_direct_trigger()
        self.env.invalidate_all()

    def qualification_watcher(self, when):
        self.run_cron("crm_regulation.ir_cron_qualification_watcher", when)

    def stale_watcher(self, when):
        self.run_cron("crm_regulation.ir_cron_stale_leads", when)

    def qualify_activities(self, leads):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "in", leads.ids),
                ("activity_type_id", "=", self.qualify.id),
            ]
        )

    def notes_to(self, lead, user, text):
        return lead.message_ids.filtered(
            lambda message: user.partner_id in message.partner_ids and text in message.body
        )

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
