from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import SQL

from odoo.addons.crm_regulation.models.business_clock import clock_for

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestStageSla(CrmRegulationCommon):
    """Stage SLAs in business hours: deadlines counted in the team's working hours (time
    zone and DST of the calendar), the watcher's warning and escalation (once per stay,
    whatever the number of runs), pause rules, set-based rescheduling, the breach on the
    stay and the compliance report."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls._calendar("Sales hours", "UTC", ((9, 13), (14, 18)))
        cls.team.write(
            {
                "resource_calendar_id": cls.calendar.id,
                "stale_days": 0,
                "qualification_stage_id": False,
            }
        )
        # Proposal: 8 business hours, at risk after 75 %, activity for both
        cls.stage_proposal.write(
            {
                "sla_hours": 8,
                "sla_warning_ratio": 0.75,
                "sla_notify": "both",
                "sla_action": "activity",
            }
        )
        # Negotiation: 16 h, email to the salesperson; Contract: 4 h, to the team leader
        cls.stage_negotiation.write(
            {
                "sla_hours": 16,
                "sla_warning_ratio": 0.5,
                "sla_notify": "owner",
                "sla_action": "email",
            }
        )
        cls.stage_contract.write({"sla_hours": 4, "sla_notify": "leader", "sla_action": "reassign"})
        cls.sla_type = cls.env.ref("crm_regulation.mail_activity_type_sla")

    def enter(self, when, stage=None, count=1, **values):
        """Leads created in ``stage`` (Proposal) at ``when``, their creation committed (so
        that later changes are tracked)."""
        with self.at(when):
            leads = self._create_leads(count, stage=stage or self.stage_proposal, **values)
            self.env.cr.precommit.run()
        return leads

    def watcher(self, when):
        with self.at(when), self.enter_registry_test_mode():
            self.env.ref("crm_regulation.ir_cron_sla_watcher").sudo().method_direct_trigger()
        self.env.invalidate_all()

    def sla_activities(self, leads, user=None):
        domain = [
            ("res_model", "=", "crm.lead"),
            ("res_id", "in", leads.ids),
            ("activity_type_id", "=", self.sla_type.id),
        ]
        if user:
            domain.append(("user_id", "=", user.id))
        return self.env["mail.activity"].search(domain)

    def breach_logs(self, lead):
        return lead.message_ids.filtered(lambda message: "Stage deadline passed" in message.body)

    # ------------------------------------------------------------
    # business-hour arithmetic
    # ------------------------------------------------------------

    def test_deadline_over_the_weekend(self):
        # Friday 16:00: 2 h on Friday, 4 h Monday morning (at risk at 6 h: Monday 13:00),
        # 2 h after lunch -> Monday 16:00
        lead = self.enter("2026-11-20 16:00:00")
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 23, 16, 0))
        self.assertEqual(lead.sla_warning_at, datetime(2026, 11, 23, 13, 0))
        self.assertEqual(lead.sla_state, "on_track")
        stay = self.open_stays(lead)
        self.assertEqual(stay.sla_deadline, datetime(2026, 11, 23, 16, 0))
        self.assertEqual(stay.sla_hours, 8)

    def test_evening_entry_counts_from_the_next_working_moment(self):
        lead = self.enter("2026-11-24 21:30:00")  # Tuesday evening
        # Wednesday 9-13 (4 h) + 14-18 (4 h) -> Wednesday 18:00
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 25, 18, 0))
        # a Saturday entry counts from Monday 9:00
        lead = self.enter("2026-11-28 11:00:00")
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 30, 18, 0))

    def test_deadline_across_a_dst_change_in_the_calendar_time_zone(self):
        berlin = self._calendar("Berlin office", "Europe/Berlin", ((9, 17),))
        self.team.resource_calendar_id = berlin
        self.stage_proposal.sla_hours = 4
        # Friday 27 March 2026 15:00 in Berlin (CET, UTC+1) = 14:00 UTC: 2 h on Friday;
        # clocks go forward on Sunday 29 March; 2 h on Monday from 9:00 CEST (UTC+2)
        lead = self.enter("2026-03-27 14:00:00")
        self.assertEqual(lead.sla_deadline, datetime(2026, 3, 30, 9, 0))
        # and back in October (CEST -> CET on Sunday 25 October 2026)
        lead = self.enter("2026-10-23 13:00:00")  # Friday 15:00 CEST
        self.assertEqual(lead.sla_deadline, datetime(2026, 10, 26, 10, 0))  # Monday 11:00 CET

    def test_public_holiday_of_the_calendar_is_not_working_time(self):
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Holiday",
                "calendar_id": self.calendar.id,
                "date_from": datetime(2026, 11, 23, 0, 0),
                "date_to": datetime(2026, 11, 23, 23, 59),
            }
        )
        lead = self.enter("2026-11-20 16:00:00")
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 24, 16, 0))

    def test_team_override_and_company_hours(self):
        self.env["crm.stage.sla"].create(
            {"team_id": self.team.id, "stage_id": self.stage_proposal.id, "sla_hours": 2}
        )
        lead = self.enter("2026-11-23 09:00:00")
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 23, 11, 0))
        self.env["crm.stage.sla"].search([("team_id", "=", self.team.id)]).sla_hours = 0
        self.assertFalse(self.enter("2026-11-23 09:00:00").sla_state)
        # a lead without a team: the stage's SLA in the company's working hours
        with self.at("2026-11-23 09:00:00"):
            lead = self.env["crm.lead"].create(
                {
                    "name": "No team",
                    "type": "opportunity",
                    "team_id": False,
                    "stage_id": self.stage_proposal.id,
                }
            )
        self.assertFalse(lead.team_id)
        company_hours = self.env.company.resource_calendar_id
        self.assertEqual(
            lead.sla_deadline,
            company_hours.plan_hours(8, datetime(2026, 11, 23, 9, 0), compute_leaves=True),
        )

    def test_business_clock_agrees_with_odoo_plan_hours(self):
        """The clock answers what ``resource.calendar.plan_hours`` answers, for starts in
        and out of working hours over two weeks, in a calendar with DST."""
        berlin = self._calendar("Berlin office", "Europe/Berlin", ((8, 12), (13, 17.5)))
        start = datetime(2026, 10, 19, 0, 7)
        moments = [start + timedelta(minutes=97 * step) for step in range(200)]
        clock = clock_for(berlin, moments, 30)
        for moment in moments:
            for hours in (0.5, 4, 30):
                expected = berlin.plan_hours(hours, moment, compute_leaves=True)
                self.assertEqual(clock.plan(moment, hours), expected, (moment, hours))
        self.assertAlmostEqual(
            clock.hours_between(datetime(2026, 10, 23, 6, 0), datetime(2026, 10, 26, 8, 0)),
            berlin.get_work_hours_count(
                datetime(2026, 10, 23, 6, 0), datetime(2026, 10, 26, 8, 0), compute_leaves=True
            ),
        )

    def test_no_sla_in_a_stage_without_one(self):
        lead = self.enter("2026-11-23 09:00:00", stage=self.stage_new)
        self.assertFalse(lead.sla_state)
        self.assertFalse(lead.sla_deadline)
        self.assertFalse(self.open_stays(lead).sla_deadline)

    # ------------------------------------------------------------
    # watcher: at risk, breached, once
    # ------------------------------------------------------------

    def test_watcher_warns_then_escalates_once(self):
        lead = self.enter("2026-11-20 16:00:00")
        self.watcher("2026-11-23 12:30:00")  # not at risk yet (13:00)
        self.assertEqual(lead.sla_state, "on_track")
        self.assertFalse(self.sla_activities(lead))
        for _run in range(2):
            self.watcher("2026-11-23 13:30:00")
            self.assertEqual(lead.sla_state, "at_risk")
            self.assertEqual(len(self.sla_activities(lead)), 1)
            self.assertEqual(self.sla_activities(lead).user_id, self.user_salesman)
        for _run in range(2):
            self.watcher("2026-11-23 16:30:00")
            self.assertEqual(lead.sla_state, "breached")
            # the salesperson's and the team leader's activities, and one log
            self.assertEqual(len(self.sla_activities(lead, self.user_salesman)), 2)
            self.assertEqual(len(self.sla_activities(lead, self.user_manager)), 1)
            self.assertEqual(len(self.breach_logs(lead)), 1)
        stay = self.open_stays(lead)
        self.assertTrue(stay.sla_breached)
        self.assertAlmostEqual(stay.sla_overdue_hours, 0.5)
        self.assertIn("Maria Head of Sales", self.breach_logs(lead).body)

    def test_late_watcher_escalates_in_one_run(self):
        lead = self.enter("2026-11-20 16:00:00")
        self.watcher("2026-11-25 10:00:00")
        self.watcher("2026-11-25 10:15:00")
        self.assertEqual(lead.sla_state, "breached")
        self.assertEqual(len(self.breach_logs(lead)), 1)
        # no separate warning: the breach activities only
        self.assertEqual(len(self.sla_activities(lead)), 2)
        # Monday 16:00 -> Wednesday 10:00: 2 + 8 + 1 business hours overdue
        self.assertAlmostEqual(self.open_stays(lead).sla_overdue_hours, 11)

    def test_email_on_breach_once(self):
        lead = self.enter("2026-11-23 09:00:00", stage=self.stage_negotiation)
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 24, 18, 0))
        for _run in range(2):
            self.watcher("2026-11-25 09:30:00")
        mails = self.env["mail.mail"].search([("model", "=", "crm.lead"), ("res_id", "=", lead.id)])
        self.assertEqual(len(mails), 1)
        self.assertEqual(mails.recipient_ids, self.user_salesman.partner_id)
        self.assertIn("Stage deadline passed", mails.subject)
        self.assertEqual(mails.state, "outgoing")  # queued, not sent in the watcher
        self.assertFalse(self.sla_activities(lead, self.user_manager))

    def test_reassign_to_the_team_leader_on_breach(self):
        lead = self.enter("2026-11-23 09:00:00", stage=self.stage_contract)
        self.watcher("2026-11-23 14:30:00")
        self.watcher("2026-11-23 14:45:00")
        self.assertEqual(lead.user_id, self.user_manager)
        self.assertEqual(lead.team_id, self.team)
        self.assertEqual(lead.sla_state, "breached")
        self.assertEqual(len(self.breach_logs(lead)), 1)
        self.assertIn("reassigned", self.breach_logs(lead).body)

    def test_two_workers_on_the_same_leads_notify_once(self):
        """Two workers may lock the same due leads one after the other: the second reads
        them again after its lock and finds nothing left to do."""
        leads = self.enter("2026-11-20 16:00:00", count=3)
        now = datetime(2026, 11, 23, 16, 30)
        first, second = leads.sudo(), self.env["crm.lead"].sudo().browse(leads.ids)
        first._sla_notify(now)
        second.invalidate_recordset()
        second._sla_notify(now)
        for lead in leads:
            self.assertEqual(len(self.breach_logs(lead)), 1)
            self.assertEqual(len(self.sla_activities(lead)), 2)

    def test_watcher_that_crashes_halfway_resumes_without_repeating(self):
        leads = self.enter("2026-11-20 16:00:00", count=3)
        original = type(self.env["crm.lead"])._sla_escalate
        calls = []

        def crash_on_second_batch(records, now):
            # (other due leads of the database, e.g. demo data, pass through)
            if set(records.ids) & set(leads.ids):
                calls.append(records.ids)
                if len(calls) == 2:
                    raise RuntimeError("worker killed")
            return original(records, now)

        # (not assertRaises: it would roll back the batch the worker committed)
        crashed = False
        try:
            with (
                self.at("2026-11-23 16:30:00"),
                self.enter_registry_test_mode(),
                patch.object(type(self.env["crm.lead"]), "_sla_escalate", crash_on_second_batch),
                self.registry.cursor() as cron_cr,
            ):
                self.env(cr=cron_cr, su=True)["crm.lead"]._cron_sla_watcher(batch_size=1)
        except RuntimeError:
            crashed = True
        self.assertTrue(crashed)
        self.env.invalidate_all()
        self.assertEqual(leads.mapped("sla_state").count("breached"), 1)
        self.watcher("2026-11-23 16:45:00")
        for lead in leads:
            self.assertEqual(lead.sla_state, "breached")
            self.assertEqual(len(self.breach_logs(lead)), 1)

    def test_watcher_query_is_on_partial_indexes(self):
        """One query, on two partial indexes holding only what is still to notify."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'crm_lead' "
            "AND indexname LIKE 'crm_lead_sla_%%'"
        )
        definitions = dict(self.env.cr.fetchall())
        self.assertIn(
            "(sla_warning_at) WHERE ((sla_state)::text = 'on_track'",
            definitions["crm_lead_sla_warning_due_idx"],
        )
        self.assertIn(
            "(sla_deadline) WHERE ((sla_state)::text = 'at_risk'",
            definitions["crm_lead_sla_deadline_due_idx"],
        )
        self.env.cr.execute("SET LOCAL enable_seqscan = off")  # a small test table
        self.env.cr.execute(
            SQL("EXPLAIN %s", self.env["crm.lead"]._sla_due_sql(datetime(2026, 11, 23)))
        )
        plan = "\n".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("crm_lead_sla_warning_due_idx", plan)
        self.assertIn("crm_lead_sla_deadline_due_idx", plan)

    # ------------------------------------------------------------
    # pause rules and restarts
    # ------------------------------------------------------------

    def test_sla_does_not_run_while_won_lost_or_archived(self):
        won, lost, archived = self.enter("2026-11-20 16:00:00", count=3)
        with self.at("2026-11-23 10:00:00"):
            won.with_user(self.user_salesman).action_set_won()
            lost.with_user(self.user_salesman).action_set_lost(lost_reason_id=self.lost_reason.id)
            archived.with_user(self.user_salesman).action_archive()
        for lead in won | lost | archived:
            self.assertFalse(lead.sla_state)
            self.assertFalse(lead.sla_deadline)
        self.watcher("2026-11-30 10:00:00")
        self.assertFalse(self.sla_activities(won | lost | archived))
        # back to work: a new stay, its SLA from that moment
        with self.at("2026-11-30 10:00:00"):
            lost.with_user(self.user_salesman).action_return_to_work("The customer called back")
        self.assertEqual(lost.sla_state, "on_track")
        self.assertEqual(lost.sla_deadline, datetime(2026, 12, 1, 10, 0))
        self.assertEqual(self.open_stays(lost).sla_deadline, datetime(2026, 12, 1, 10, 0))

    def test_stage_change_restarts_and_a_late_exit_is_a_breach(self):
        lead = self.enter("2026-11-20 16:00:00")
        with self.at("2026-11-24 09:00:00"):  # past the deadline, before any watcher run
            lead.with_user(self.user_salesman).stage_id = self.stage_negotiation
        self.assertEqual(lead.sla_state, "on_track")
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 25, 18, 0))
        proposal_stay = self.history(lead).filtered(lambda s: s.stage_id == self.stage_proposal)
        self.assertTrue(proposal_stay.sla_breached)
        # business hours of the stay: Friday 16-18, Monday 9-13, 14-18 = 10 h
        self.assertAlmostEqual(proposal_stay.duration_business_hours, 10)
        self.assertAlmostEqual(proposal_stay.sla_overdue_hours, 2)
        self.assertAlmostEqual(proposal_stay.duration_hours, 89)
        # moving to a stage without SLA stops it
        with self.at("2026-11-24 10:00:00"):
            lead.with_user(self.user_salesman).stage_id = self.stage_new
        self.assertFalse(lead.sla_state)

    def test_stays_closed_in_a_mass_move_get_their_business_hours(self):
        leads = self.enter("2026-11-23 09:00:00", count=150)
        with self.at("2026-11-23 11:00:00"):
            leads.with_user(self.user_salesman).write({"stage_id": self.stage_negotiation.id})
        closed = self.history(leads).filtered("date_out")
        self.assertEqual(len(closed), 150)
        self.assertEqual(set(closed.mapped("duration_business_hours")), {2.0})

    def test_stays_recorded_before_the_upgrade_get_their_business_hours(self):
        leads = self.enter("2026-11-20 16:00:00", count=3)
        with self.at("2026-11-23 11:00:00"):
            leads.with_user(self.user_salesman).write({"stage_id": self.stage_negotiation.id})
        closed = self.history(leads).filtered("date_out")
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead_stage_history SET duration_business_hours = NULL, "
            "sla_overdue_hours = NULL WHERE id = ANY(%s)",
            [closed.ids],
        )
        closed.invalidate_recordset()
        History = self.env["crm.lead.stage.history"]
        self.assertGreaterEqual(History._fill_business_hours(batch_size=2), 3)
        # Friday 16-18 and Monday 9-11; 8-hour SLA: not overdue
        self.assertEqual(set(closed.mapped("duration_business_hours")), {4.0})
        self.assertEqual(set(closed.mapped("sla_overdue_hours")), {0.0})
        self.assertEqual(History._fill_business_hours(), 0)

    def test_changing_the_stage_sla_reschedules_its_open_leads_set_based(self):
        early = self.enter("2026-11-20 16:00:00", count=3)
        late = self.enter("2026-11-23 14:00:00", count=2)
        self.watcher("2026-11-23 16:30:00")
        self.assertEqual(set(early.mapped("sla_state")), {"breached"})
        self.assertEqual(set(late.mapped("sla_state")), {"on_track"})
        with self.at("2026-11-23 16:45:00"):
            self.stage_proposal.sla_hours = 16
        # from the stays' start: Friday 16:00 + 16 h -> Tuesday 16:00; at risk after 12 h
        # (Tuesday 11:00): back on track against the new target (warned again near it)
        self.assertEqual(set(early.mapped("sla_deadline")), {datetime(2026, 11, 24, 16, 0)})
        self.assertEqual(set(early.mapped("sla_warning_at")), {datetime(2026, 11, 24, 11, 0)})
        self.assertEqual(set(early.mapped("sla_state")), {"on_track"})
        self.assertFalse(any(self.open_stays(early).mapped("sla_breached")))
        self.assertEqual(set(self.open_stays(early).mapped("sla_hours")), {16})
        self.assertEqual(set(late.mapped("sla_deadline")), {datetime(2026, 11, 25, 13, 0)})
        # a shorter SLA: leads past it are left to the watcher, which notifies them once
        with self.at("2026-11-23 16:50:00"):
            self.stage_proposal.sla_hours = 2
        self.assertEqual(set(late.mapped("sla_state")), {"on_track"})
        self.watcher("2026-11-23 17:00:00")
        self.assertEqual(set(late.mapped("sla_state")), {"breached"})
        for lead in late:
            self.assertEqual(len(self.breach_logs(lead)), 1)
        # the early leads were put back on track by the 16-hour target: missing the new
        # 2-hour one is a breach of another target, notified once more
        self.assertEqual(len(self.breach_logs(early[0])), 2)
        self.watcher("2026-11-23 17:15:00")
        self.assertEqual(len(self.breach_logs(early[0])), 2)
        # no SLA at all: cleared
        self.stage_proposal.sla_hours = 0
        self.assertFalse(any((early | late).mapped("sla_state")))

    def test_reschedule_cost_does_not_grow_with_the_leads(self):
        self.enter("2026-11-20 16:00:00", count=5)
        with self.query_count(16):
            self.stage_proposal.sla_hours = 12
        self.enter("2026-11-20 16:00:00", count=50)
        with self.query_count(16):
            self.stage_proposal.sla_hours = 10

    def test_lead_moved_to_another_team_gets_its_sla(self):
        other = self.env["crm.team"].create(
            {"name": "Other", "resource_calendar_id": self._calendar("Long", "UTC", ((8, 20),)).id}
        )
        lead = self.enter("2026-11-23 09:00:00")
        with self.at("2026-11-23 10:00:00"):
            lead.team_id = other
        # from the stay's start, in the other team's 12-hour days: 09:00 + 8 h -> 17:00
        self.assertEqual(lead.sla_deadline, datetime(2026, 11, 23, 17, 0))

    def test_rotting_and_sla_work_side_by_side(self):
        self.stage_proposal.rotting_threshold_days = 2
        lead = self.enter("2026-11-20 16:00:00")
        with self.at("2026-11-25 09:00:00"):
            lead.invalidate_recordset(["is_rotting", "rotting_days"])
            self.assertTrue(lead.is_rotting)
            self.assertEqual(lead.rotting_days, 4)
        self.assertEqual(lead.sla_state, "on_track")
        self.watcher("2026-11-25 09:00:00")
        self.assertEqual(lead.sla_state, "breached")

    # ------------------------------------------------------------
    # bad input, access
    # ------------------------------------------------------------

    def test_bad_settings_are_refused(self):
        with self.refused("cannot be negative", ValidationError):
            self.stage_new.sla_hours = -1
        for ratio in (0, -0.5, 1.5):
            with self.refused("more than 0 and at most 1", ValidationError):
                self.stage_new.write({"sla_hours": 8, "sla_warning_ratio": ratio})
        with self.refused("cannot be negative", ValidationError):
            self.env["crm.stage.sla"].create(
                {"team_id": self.team.id, "stage_id": self.stage_new.id, "sla_hours": -2}
            )
        empty = self.env["resource.calendar"].create({"name": "Nobody works", "attendance_ids": []})
        with self.refused("have no working time", ValidationError):
            self.team.resource_calendar_id = empty
        self.assertEqual(self.team.resource_calendar_id, self.calendar)
        self.assertEqual(self.stage_new.sla_hours, 0)
        # a stage SLA counted in a calendar without working time is refused too
        team = self.env["crm.team"].create({"name": "Night shift"})
        team.flush_recordset()
        self.env.cr.execute(
            "UPDATE crm_team SET resource_calendar_id = %s WHERE id = %s", (empty.id, team.id)
        )
        team.invalidate_recordset()
        stage = self.env["crm.stage"].create({"name": "Night", "team_ids": [(6, 0, team.ids)]})
        with self.refused("have no working time", ValidationError):
            stage.sla_hours = 4

    def test_salesperson_reads_but_cannot_write_the_sla(self):
        lead = self.enter("2026-11-23 09:00:00")
        as_salesman = lead.with_user(self.user_salesman)
        self.assertEqual(as_salesman.sla_state, "on_track")
        for values in (
            {"sla_state": "on_track"},
            {"sla_deadline": datetime(2030, 1, 1)},
            {"sla_warning_at": False},
        ):
            with self.refused("cannot be written directly", AccessError):
                as_salesman.write(values)
        with self.refused("cannot be written directly", AccessError):
            self.env["crm.lead"].with_user(self.user_manager).create(
                {"name": "x", "sla_deadline": datetime(2030, 1, 1)}
            )
        with self.assertRaises(AccessError):
            self.stage_proposal.with_user(self.user_salesman).sla_hours = 1
        with self.assertRaises(AccessError):
            self.env["crm.stage.sla"].with_user(self.user_salesman).create(
                {"team_id": self.team.id, "stage_id": self.stage_new.id, "sla_hours": 1}
            )

    def test_stage_form_sets_the_sla(self):
        with Form(self.stage_presentation.with_user(self.user_manager)) as form:
            form.sla_hours = 24
            form.sla_warning_ratio = 0.5
            form.sla_action = "email"
        self.assertEqual(self.stage_presentation.sla_hours, 24)

    # ------------------------------------------------------------
    # views, document, report
    # ------------------------------------------------------------

    def test_badges_in_kanban_list_form_and_search(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        kanban = Lead.get_view(view_type="kanban")["arch"]
        self.assertIn("SLA at risk", kanban)
        self.assertIn("SLA breached", kanban)
        for view_type in ("list", "form"):
            self.assertIn('name="sla_state"', Lead.get_view(view_type=view_type)["arch"])
        search = Lead.get_view(view_type="search")["arch"]
        for name in ("sla_on_track", "sla_at_risk", "sla_breached", "group_sla_state"):
            self.assertIn(f'name="{name}"', search)
        lead = self.enter("2026-11-20 16:00:00")
        self.watcher("2026-11-23 16:30:00")
        self.assertEqual(Lead.search([("sla_state", "=", "breached"), ("id", "=", lead.id)]), lead)

    def test_regulation_document_states_the_slas(self):
        document = self.env["report.crm_regulation.report_sales_regulation"]._document(self.team)
        by_name = {stage["name"]: stage for stage in document["stages"]}
        self.assertIn("8 business hours; at risk after 75%", by_name["Proposal"]["sla"])
        self.assertIn("schedule an activity", by_name["Proposal"]["sla"])
        self.assertIn("send an email", by_name["Negotiation"]["sla"])
        self.assertEqual(by_name["New Lead"]["sla"], "")

    def test_compliance_mean_and_p90_in_business_hours(self):
        leads = self.enter("2026-11-23 09:00:00", count=10)
        # leave after 1..10 business hours (Monday 9-13, 14-18; Tuesday 9-11)
        exits = [
            "2026-11-23 10:00:00",
            "2026-11-23 11:00:00",
            "2026-11-23 12:00:00",
            "2026-11-23 13:00:00",
            "2026-11-23 15:00:00",
            "2026-11-23 16:00:00",
            "2026-11-23 17:00:00",
            "2026-11-23 18:00:00",
            "2026-11-24 10:00:00",
            "2026-11-24 11:00:00",
        ]
        for lead, when in zip(leads, exits, strict=True):
            with self.at(when):
                lead.with_user(self.user_salesman).stage_id = self.stage_negotiation
        Report = self.env["crm.regulation.report"].with_user(self.user_manager)
        domain = [("lead_id", "in", leads.ids), ("stage_id", "=", self.stage_proposal.id)]
        [(stays, compliance, mean, p90)] = Report._read_group(
            domain,
            [],
            [
                "sla_stay_count:sum",
                "compliance:avg",
                "business_hours:avg",
                "business_hours_p90:p90",
            ],
        )
        self.assertEqual(stays, 10)
        self.assertAlmostEqual(compliance, 80)  # 9 and 10 hours are past the 8-hour SLA
        self.assertAlmostEqual(mean, 5.5)
        self.assertAlmostEqual(p90, 9.1)
        # per salesperson, as the pivot asks (the aggregator comes from the field)
        groups = Report.formatted_read_group(
            domain, ["user_id"], ["compliance:avg", "business_hours_p90:p90"]
        )
        self.assertEqual(groups[0]["business_hours_p90:p90"], p90)
        self.assertEqual(
            Report.fields_get(["business_hours_p90"])["business_hours_p90"]["aggregator"], "p90"
        )
        with self.assertRaises(AccessError):
            Report.with_user(self.user_salesman).search([])

    def test_breached_stay_counts_against_compliance_while_open(self):
        lead = self.enter("2026-11-20 16:00:00")
        Report = self.env["crm.regulation.report"]
        [(compliance,)] = Report._read_group([("lead_id", "=", lead.id)], [], ["compliance:avg"])
        self.assertFalse(compliance)  # running, within target: not counted yet
        self.watcher("2026-11-23 16:30:00")
        [(compliance, breaches)] = Report._read_group(
            [("lead_id", "=", lead.id)], [], ["compliance:avg", "breached_count:sum"]
        )
        self.assertEqual((compliance, breaches), (0.0, 1))

    def test_watcher_leaves_leads_not_due_untouched(self):
        leads = self.enter("2026-11-23 09:00:00", count=5)
        messages = leads.message_ids
        with self.at("2026-11-23 10:00:00"):
            due = self.env.execute_query(
                self.env["crm.lead"]._sla_due_sql(datetime(2026, 11, 23, 10, 0))
            )
        self.assertFalse([lead_id for (lead_id,) in due if lead_id in leads.ids])
        self.watcher("2026-11-23 10:00:00")
        self.assertEqual(leads.message_ids, messages)
        self.assertFalse(self.sla_activities(leads))
        self.assertEqual(set(leads.mapped("sla_state")), {"on_track"})
        self.assertTrue(all(lead.sla_warning_at > datetime(2026, 11, 23, 10) for lead in leads))
        self.assertTrue(timedelta(0) < leads[0].sla_deadline - leads[0].sla_warning_at)
