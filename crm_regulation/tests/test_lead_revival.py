from unittest.mock import patch

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import load_migration
from .watcher_common import WatcherCommon


class WorkerKilled(BaseException):
    """A worker killed in the middle of a run."""


REPLY = """Return-Path: <{email}>
From: Customer <{email}>
To: sales@example.com
Subject: Re: {subject}
Message-ID: <revival-reply-{lead}@example.com>
In-Reply-To: {parent}
References: {parent}
Content-Type: text/plain; charset="utf-8"

Yes, we are still looking for an apartment.
"""


class RevivalCommon(WatcherCommon):
    """A team working Monday to Friday 9-18 UTC, a program for the "Family" segment with an
    e-mail after 2 business days and a call for the previous owner 3 business days later,
    and a second program (later in sequence) for every lost lead of the team."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team.loss_review = False  # lost leads enter at once (the review: its own test)
        cls.family = cls.env["crm.tag"].create({"name": "Revival test: family"})
        cls.template = cls.env["mail.template"].create(
            {
                "name": "Revival: family offer",
                "model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "subject": "A new family apartment for {{ object.partner_name or object.name }}",
                "body_html": "<p>We have a new offer for your family.</p>",
                "use_default_to": True,
            }
        )
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.program = cls.env["crm.revival.program"].create(
            {
                "name": "Families",
                "sequence": 1,
                "team_ids": [(6, 0, cls.team.ids)],
                "domain": f"[('tag_ids', 'in', [{cls.family.id}])]",
                "reentry_stage_id": cls.stage_qualification.id,
                "step_ids": [
                    (0, 0, {"sequence": 1, "delay_days": 2, "mail_template_id": cls.template.id}),
                    (
                        0,
                        0,
                        {
                            "sequence": 2,
                            "delay_days": 3,
                            "action": "activity",
                            "activity_type_id": cls.call.id,
                            "summary": "Call about the new offer",
                        },
                    ),
                ],
            }
        )
        cls.program_all = cls.env["crm.revival.program"].create(
            {
                "name": "Everyone",
                "sequence": 2,
                "team_ids": [(6, 0, cls.team.ids)],
                "reentry_stage_id": cls.stage_new.id,
                "step_ids": [(0, 0, {"delay_days": 5, "mail_template_id": cls.template.id})],
            }
        )
        cls.marketer = cls.env["res.users"].create(
            {
                "name": "Mila Marketer",
                "login": "revival_marketer",
                "email": "mila@example.com",
                "group_ids": [(6, 0, cls.env.ref("crm_regulation.group_marketer").ids)],
            }
        )

    buyers = iter(range(1, 1000))

    def lose(self, when="2026-11-20 10:00:00", tags=True, reason=None, **values):
        """A lead of Sasha's, lost at ``when`` (a Friday)."""
        with self.at(when):
            lead = self._create_leads(
                1,
                **{
                    "email_from": f"buyer{next(self.buyers)}@example.com",
                    "tag_ids": [(6, 0, self.family.ids)] if tags else [],
                    **values,
                },
            )
            lead.with_user(self.user_salesman).action_set_lost(
                lost_reason_id=(reason or self.lost_reason).id
            )
        return lead

    def enrollment(self, lead):
        return self.env["crm.revival.enrollment"].search([("lead_id", "=", lead.id)])

    def runner(self, when):
        self.run_cron("crm_regulation.ir_cron_revival_runner", when)

    def step_mails(self, lead):
        return lead.message_ids.filtered(lambda m: "new family apartment" in (m.subject or ""))

    def reply(self, lead, when):
        """The customer answers the last step's e-mail (through the mail gateway)."""
        sent = self.step_mails(lead)[:1]
        with self.at(when):
            self.env["mail.thread"].sudo().message_process(
                "crm.lead",
                REPLY.format(
                    email=lead.email_from,
                    subject=sent.subject,
                    lead=lead.id,
                    parent=sent.message_id,
                ),
            )
        self.env.invalidate_all()


class TestRevivalEnrollment(RevivalCommon):
    def test_lost_lead_enters_the_first_matching_program(self):
        lead = self.lose()
        enrollment = self.enrollment(lead)
        self.assertEqual(enrollment.program_id, self.program)
        self.assertEqual(enrollment.state, "running")
        self.assertEqual(enrollment.owner_id, self.user_salesman)
        # Friday 10:00 + 2 business days: the end of Tuesday's work
        self.assertEqual(enrollment.step_id, self.program.step_ids[0])
        self.assertEqual(str(enrollment.next_run)[:10], "2026-11-24")
        self.assertEqual(lead.revival_state, "running")
        # not in the "Family" segment: the next program
        other = self.lose(tags=False)
        self.assertEqual(self.enrollment(other).program_id, self.program_all)

    def test_confirmed_loss_enters_only_once_reviewed(self):
        self.team.loss_review = True
        lead = self.lose()
        self.assertFalse(self.enrollment(lead))
        lead.with_user(self.user_manager).action_loss_review_confirm()
        self.assertEqual(self.enrollment(lead).program_id, self.program)

    def test_never_enrolled(self):
        disqualified = self.lose(reason=self.disqualification_reason())
        spam = self.env["crm.lost.reason"].create({"name": "Spam", "revivable": False})
        not_revivable = self.lose(reason=spam)
        self.env["mail.blacklist"].sudo()._add("opted.out@example.com")
        opted_out = self.lose(email_from="opted.out@example.com")
        no_email = self.lose(email_from=False)
        for lead in disqualified | not_revivable | opted_out | no_email:
            self.assertFalse(self.enrollment(lead), lead.email_from)

    def disqualification_reason(self):
        return self.env["crm.lost.reason"].search([("category", "=", "disqualification")], limit=1)

    def test_by_hand_marketers_and_heads_only(self):
        self.team.loss_review = True
        lead = self.lose()
        with self.assertRaises(AccessError):
            lead.with_user(self.user_salesman).action_revival_enroll()
        lead.with_user(self.marketer).action_revival_enroll()
        self.assertEqual(self.enrollment(lead).state, "running")
        with self.assertRaises(UserError):
            lead.with_user(self.marketer).action_revival_enroll()  # already in one
        lead.with_user(self.user_manager).action_revival_stop()
        self.assertEqual(self.enrollment(lead).state, "stopped")
        self.assertIn("Maria Head of Sales", self.enrollment(lead).stop_reason)
        self.assertFalse(lead.revival_state)


class TestRevivalRunner(RevivalCommon):
    def test_steps_in_business_days_once_each(self):
        lead = self.lose()
        self.runner("2026-11-23 12:00:00")  # Monday: not yet
        self.assertFalse(self.step_mails(lead))
        self.runner("2026-11-24 18:30:00")
        self.runner("2026-11-24 18:45:00")
        mails = self.step_mails(lead)
        self.assertEqual(len(mails), 1, "sent once")
        self.assertEqual(mails.message_type, "comment")
        self.assertIn(lead.email_from, mails.partner_ids.mapped("email"))
        enrollment = self.enrollment(lead)
        self.assertEqual(enrollment.steps_done, 1)
        self.assertEqual(enrollment.step_id, self.program.step_ids[1])
        # 3 business days after Tuesday evening: Friday
        self.assertEqual(str(enrollment.next_run)[:10], "2026-11-27")
        self.runner("2026-11-27 18:30:00")
        activity = lead.activity_ids.filtered(lambda a: a.activity_type_id == self.call)
        self.assertEqual(activity.user_id, self.user_salesman, "for the previous owner")
        self.assertEqual(enrollment.state, "finished")
        self.runner("2026-12-04 18:30:00")
        self.assertEqual(len(self.step_mails(lead)), 1)

    def test_opted_out_stops_at_once(self):
        lead = self.lose()
        self.env["mail.blacklist"].sudo()._add(lead.email_from)
        self.runner("2026-11-24 18:30:00")
        self.assertFalse(self.step_mails(lead))
        self.assertEqual(self.enrollment(lead).state, "stopped")
        self.assertEqual(self.enrollment(lead).stop_reason, "Opted out")

    def test_two_workers_send_once(self):
        leads = self.lose() | self.lose() | self.lose()
        enrollments = (
            self.env["crm.revival.enrollment"].sudo().search([("lead_id", "in", leads.ids)])
        )
        now = enrollments[0].next_run
        Lead = self.env["crm.lead"]
        Lead._revival_run_steps(enrollments, now)
        enrollments.invalidate_recordset()
        Lead._revival_run_steps(
            self.env["crm.revival.enrollment"].sudo().browse(enrollments.ids), now
        )
        for lead in leads:
            self.assertEqual(len(self.step_mails(lead)), 1)

    def test_crash_after_the_first_batch_resumes_without_repeating(self):
        leads = self.lose() | self.lose() | self.lose()
        original = type(self.env["crm.lead"])._revival_run_step
        calls = []

        def killed_on_second(model, enrollment, *args):
            if enrollment.lead_id in leads:
                calls.append(enrollment.id)
                if len(calls) == 2:
                    raise WorkerKilled()
            return original(model, enrollment, *args)

        killed = False
        try:
            with (
                self.at("2026-11-24 18:30:00"),
                self.enter_registry_test_mode(),
                patch.object(type(self.env["crm.lead"]), "_revival_run_step", killed_on_second),
                self.registry.cursor() as cron_cr,
            ):
                self.env(cr=cron_cr, su=True)["crm.lead"]._cron_revival_runner(batch_size=1)
        except WorkerKilled:
            killed = True
        self.assertTrue(killed)
        self.env.invalidate_all()
        self.assertEqual(sum(len(self.step_mails(lead)) for lead in leads), 1)
        self.runner("2026-11-24 18:45:00")
        for lead in leads:
            self.assertEqual(len(self.step_mails(lead)), 1)

    def test_a_template_that_fails_stops_its_enrollment_only(self):
        broken = self.lose()
        fine = self.lose()
        original = type(self.env["crm.lead"]).message_post_with_source

        def fails_for_broken(leads, source, **kwargs):
            if leads == broken:
                raise ValueError("cannot render")
            return original(leads, source, **kwargs)

        with (
            patch.object(type(self.env["crm.lead"]), "message_post_with_source", fails_for_broken),
            mute_logger("odoo.addons.crm_regulation.models.crm_lead_revival"),
        ):
            self.runner("2026-11-24 18:30:00")
        self.assertEqual(self.enrollment(broken).state, "stopped")
        self.assertIn("cannot render", self.enrollment(broken).stop_reason)
        self.assertEqual(len(self.step_mails(fine)), 1)


class TestRevival(RevivalCommon):
    def test_a_reply_brings_the_lead_back_to_its_owner(self):
        lead = self.lose()
        self.runner("2026-11-24 18:30:00")
        self.reply(lead, "2026-11-25 10:00:00")
        self.assertTrue(lead.active)
        self.assertEqual(lead.outcome, "open")
        self.assertEqual(lead.stage_id, self.stage_qualification, "the re-entry stage")
        self.assertEqual(lead.user_id, self.user_salesman)
        self.assertEqual(self.enrollment(lead).state, "revived")
        self.assertTrue(
            lead.activity_ids.filtered(
                lambda a: a.user_id == self.user_salesman and "Revived" in (a.summary or "")
            )
        )
        self.assertTrue(
            lead.message_ids.filtered(lambda m: "Revival: Families" in str(m.body)),
            "the return to work says why",
        )
        # a new stay, as for any return
        self.assertEqual(self.open_stays(lead).stage_id, self.stage_qualification)
        # the program's figures
        program = self.program.with_user(self.user_manager)
        self.assertEqual(
            (program.enrollment_count, program.sent_count, program.replied_count),
            (1, 1, 1),
        )
        self.assertEqual((program.revived_count, program.won_count), (1, 0))
        with self.at("2026-11-26 10:00:00"):
            lead.with_user(self.user_salesman).action_set_won()
        program.invalidate_recordset()
        self.assertEqual(program.won_count, 1)

    def test_revive_by_hand_when_the_owner_left(self):
        lead = self.lose()
        self.user_salesman.action_archive()
        with self.assertRaises(AccessError):
            lead.with_user(self.user_salesman_2).action_revive()
        lead.with_user(self.marketer).action_revive()
        self.assertEqual(lead.user_id, self.user_manager, "the team leader")
        self.assertEqual(self.enrollment(lead).state, "revived")
        with self.assertRaises(UserError):
            lead.with_user(self.marketer).action_revive()


class TestRevivalFigures(RevivalCommon):
    """Per program and step: enrolled, steps run, replies, revived, won after revival and its
    revenue (the revival report, heads of sales and marketers), and the KPI codes."""

    def test_figures_per_step_and_kpis(self):
        replied = self.lose(expected_revenue=5000)  # step 1, replies, won
        finished = self.lose()  # steps 1 and 2
        by_hand = self.lose()  # revived before any step
        with self.at("2026-11-23 10:00:00"):
            by_hand.with_user(self.marketer).action_revive()
        self.runner("2026-11-24 18:30:00")
        self.reply(replied, "2026-11-25 10:00:00")
        self.runner("2026-11-27 18:30:00")
        with self.at("2026-11-26 10:00:00"):
            replied.with_user(self.user_salesman).action_set_won()
        first, second = self.program.step_ids
        self.assertEqual(self.enrollment(finished).state, "finished")
        Report = self.env["crm.revival.report"]
        measures = [
            "enrolled_count:sum",
            "sent_count:sum",
            "replied_count:sum",
            "revived_count:sum",
            "won_count:sum",
        ]
        rows = {
            step: tuple(figures)
            for step, *figures in Report.with_user(self.marketer)._read_group(
                [("program_id", "=", self.program.id)], ["step_id"], measures
            )
        }
        self.assertEqual(
            rows,
            {
                first: (2, 2, 1, 1, 1),  # the reply and the win count on the last step
                second: (0, 1, 0, 0, 0),
                Report.step_id: (1, 0, 0, 1, 0),  # no step yet: revived by hand
            },
        )
        revenue = Report._read_group(
            [("program_id", "=", self.program.id)], [], ["revenue_won:sum"]
        )
        self.assertEqual(revenue[0][0], 5000)
        program = self.program.with_user(self.user_manager)
        self.assertEqual(
            (
                program.enrollment_count,
                program.sent_count,
                program.replied_count,
                program.revived_count,
                program.won_count,
            ),
            (3, 3, 1, 2, 1),
        )
        # figures, not customers and not revenue, for the marketer; nothing for salespeople
        with self.assertRaises(AccessError):
            Report.with_user(self.marketer)._read_group([], [], ["revenue_won:sum"])
        with self.assertRaises(AccessError):
            Report.with_user(self.user_salesman).search([])
        with self.assertRaises(AccessError):
            self.program.with_user(self.user_salesman).enrollment_count  # noqa: B018
        # a step runs once per enrollment, whatever writes
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            self.env["crm.revival.delivery"].create(
                {"enrollment_id": self.enrollment(finished).id, "step_id": first.id}
            )
        # the KPI codes: revived (by the day) and won after revival, per salesperson
        with self.at("2026-11-30 10:00:00"):
            kpis = {
                (kpi["code"], kpi.get("key")): kpi
                for kpi in self.team.with_user(self.user_manager).get_regulation_kpis(
                    "2026-11-23", "2026-11-29"
                )
            }
        self.assertEqual(kpis["revived", None]["value"], 2)
        self.assertEqual(kpis["revived_won", None]["value"], 1)
        self.assertIn("of 2 revived", kpis["revived_won", None]["denominator"])
        # leads in revival are not in anybody's pipeline (lost: not in work)
        self.assertEqual(self.enrollment(finished).lead_id.active, False)
        # and in the digests, like any KPI
        digest = self.env["digest.digest"].create(
            {
                "name": "Revival week",
                "periodicity": "weekly",
                "crm_regulation": True,
                "crm_team_ids": [(6, 0, self.team.ids)],
                "crm_kpi_ids": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("crm_regulation.kpi_revived").id,
                            self.env.ref("crm_regulation.kpi_revived_won").id,
                        ],
                    )
                ],
                "user_ids": [(6, 0, self.user_manager.ids)],
                "crm_active_since": "2026-11-02 00:00:00",
            }
        )
        with self.at("2026-11-30 10:00:00"):
            calendar = digest._crm_calendar(self.user_manager)
            period = digest._crm_due_period(calendar, self.env.cr.now())
            content = digest.with_context(tz=calendar.tz)._crm_content(self.user_manager, period)
        lines = {line["code"]: line for line in content["sections"][0]["lines"]}
        self.assertEqual((lines["revived"]["value"], lines["revived_won"]["value"]), (2, 1))


class TestRevivalBadInput(RevivalCommon):
    def test_refused_at_save(self):
        Program = self.env["crm.revival.program"]
        values = {"name": "Bad", "reentry_stage_id": self.stage_new.id}
        for domain in ("not a domain", "[('no_such_field', '=', 1)]", "[('id', '=', __import__)]"):
            with self.assertRaises(ValidationError, msg=domain):
                Program.create(dict(values, domain=domain))
        other_team = self.env["crm.team"].create({"name": "Other"})
        other_stage = self.env["crm.stage"].create(
            {"name": "Theirs", "team_ids": [(6, 0, other_team.ids)]}
        )
        with self.assertRaises(ValidationError):
            Program.create(
                dict(values, team_ids=[(6, 0, self.team.ids)], reentry_stage_id=other_stage.id)
            )
        with self.assertRaises(ValidationError):
            self.program.step_ids[0].delay_days = -1
        partner_template = self.env["mail.template"].create(
            {"name": "Partner", "model_id": self.env["ir.model"]._get_id("res.partner")}
        )
        with self.assertRaises(ValidationError):
            self.program.step_ids[0].mail_template_id = partner_template
        with self.assertRaises(ValidationError):
            self.program.min_days_lost = -3


class TestRevivalByNewLead(RevivalCommon):
    def test_a_new_lead_of_the_same_customer_revives_the_old_one(self):
        lead = self.lose()
        with self.at("2026-11-25 10:00:00"):
            new = self.env["crm.lead"].create(
                {"name": "Web form: apartment", "email_from": f"Buyer <{lead.email_from.upper()}>"}
            )
        self.assertEqual(self.enrollment(lead).state, "revived")
        self.assertTrue(lead.active)
        self.assertEqual(lead.stage_id, self.stage_qualification)
        self.assertEqual(new.duplicate_of_id, lead)
        self.assertEqual(new.outcome, "disqualified", "no second deal")
        # a customer not in revival: a new lead as usual
        other = self.env["crm.lead"].create({"name": "Other", "email_from": "x@example.com"})
        self.assertEqual(other.outcome, "open")
        self.assertFalse(other.duplicate_of_id)

    def test_by_phone_and_to_the_team_leader_when_the_owner_left_the_team(self):
        lead = self.lose(phone="+7 916 123-45-67")
        self.team.member_ids -= self.user_salesman
        with self.at("2026-11-25 10:00:00"):
            # a web form or a call-tracking integration, as the system
            new = self.env["crm.lead"].create(
                {"name": "Call: apartment", "phone": "+7 916 123-45-67"}
            )
        self.assertEqual(self.enrollment(lead).state, "revived")
        self.assertEqual(new.duplicate_of_id, lead)
        self.assertEqual(lead.user_id, self.team.user_id, "the owner left the team")

    def test_x2many_commands_of_lower_roles(self):
        """The enrollments are the system's: no role writes them through the lead, and a
        salesperson does not write programs or their steps."""
        lead = self.lose()
        for command in ((0, 0, {"program_id": self.program.id}), (2, self.enrollment(lead).id)):
            with self.assertRaises(AccessError, msg=command):
                lead.with_user(self.user_salesman).write({"revival_enrollment_ids": [command]})
        self.assertEqual(len(self.enrollment(lead)), 1)
        with self.assertRaises(AccessError):
            self.program.with_user(self.user_salesman).write(
                {"step_ids": [(0, 0, {"delay_days": 1, "mail_template_id": self.template.id})]}
            )
        self.assertEqual(len(self.program.step_ids), 2)


class TestRevivalUpgrade(RevivalCommon):
    def test_upgrade_fills_the_steps_already_run(self):
        """From 19.0.1.9.0: the steps run before the figures per step existed."""
        lead = self.lose()
        self.runner("2026-11-24 18:30:00")
        self.runner("2026-11-27 18:30:00")
        enrollment = self.enrollment(lead)
        self.assertEqual(enrollment.steps_done, 2)
        self.env.flush_all()
        self.env.cr.execute(
            "DELETE FROM crm_revival_delivery WHERE enrollment_id = %s", [enrollment.id]
        )
        self.env.cr.execute("UPDATE crm_revival_step SET template_user_id = NULL")
        migration = load_migration("19.0.1.10.0")
        for _run in range(2):  # twice: nothing doubled
            migration.migrate(self.env.cr, "19.0.1.9.0")
            deliveries = self.env["crm.revival.delivery"].search(
                [("enrollment_id", "=", enrollment.id)], order="position"
            )
            self.assertEqual(deliveries.mapped("position"), [1, 2])
            self.assertEqual(deliveries.step_id, self.program.step_ids)
        self.assertEqual(self.program.step_ids[0].template_user_id, self.env.user)


class TestRevivalAttacks(RevivalCommon):
    """What the attack review of the revival program found, refused."""

    def test_only_the_mail_gateway_revives_by_a_reply(self):
        lead = self.lose()
        portal = mail_new_test_user(self.env, login="revival_portal", groups="base.group_portal")
        for user in (portal, self.user_salesman_2, self.user_salesman):
            self.env["crm.lead"].with_user(user).browse(lead.id).message_update({})
            self.assertEqual(self.enrollment(lead).state, "running", user.login)

    def test_an_e_mail_fed_to_the_gateway_by_a_user_revives_nothing(self):
        """Odoo lets every user call the gateway's entry point over RPC; it routes as the
        system. Under the role matrix it is refused to leads; outside it, a reply or a new
        lead fed that way revives nothing."""
        lead = self.lose()
        self.runner("2026-11-24 18:30:00")
        sent = self.step_mails(lead)
        reply = REPLY.format(
            email=lead.email_from, subject=sent.subject, lead=lead.id, parent=sent.message_id
        )
        # Pavel reads the customer's contact (the e-mail's author), as Odoo's routing needs
        self.env["res.partner"].search(
            [("email", "=", lead.email_from)]
        ).user_id = self.user_salesman_2
        Thread = self.env["mail.thread"].with_user(self.user_salesman_2)
        new_lead = reply.replace("In-Reply-To", "X-Old").replace("References", "X-Old-Ref")
        new_lead = new_lead.replace("revival-reply", "revival-new")
        with self.assertRaises(AccessError):
            Thread.with_context(crm_regulation_gateway_trusted=True).message_process(
                "crm.lead", reply, thread_id=lead.id
            )
        with self.assertRaises(AccessError):
            Thread.message_process(
                "crm.lead", new_lead, custom_values={"user_id": self.user_salesman_2.id}
            )
        self.assertEqual(self.enrollment(lead).state, "running", "refused")
        # outside the role matrix: Odoo's gateway, but no revival
        self.company.crm_role_matrix_for_sales_groups = False
        self.env.registry.clear_cache()
        Thread.with_context(crm_regulation_gateway_trusted=True).message_process(
            "crm.lead", reply, thread_id=lead.id
        )
        self.assertEqual(self.enrollment(lead).state, "running", "a reply")
        Thread.message_process("crm.lead", new_lead)
        self.assertEqual(self.enrollment(lead).state, "running", "a new lead")

    def test_segments_never_read_sensitive_fields(self):
        Program = self.env["crm.revival.program"]
        values = {"name": "Rich", "reentry_stage_id": self.stage_new.id}
        for user in (self.marketer, self.user_manager):
            for domain in ("[('expected_revenue', '>', 1)]", "[('description', 'ilike', 'x')]"):
                with self.assertRaises(ValidationError, msg=(user.login, domain)):
                    Program.with_user(user).create(dict(values, domain=domain))
            with self.assertRaises(ValidationError, msg=user.login):
                self.program.with_user(user).domain = "[('probability', '>', 50)]"

    def test_templates_of_steps(self):
        Template = self.env["mail.template"]
        lead_model = self.env["ir.model"]._get_id("crm.lead")
        report = self.env["ir.actions.report"].search([], limit=1)
        step = self.program.step_ids[0]
        for bad in (
            {"report_template_ids": [(6, 0, report.ids)]},
            {"email_to": "attacker@example.com"},
            {"partner_to": str(self.user_manager.partner_id.id)},
            {"use_default_to": False},
        ):
            template = Template.create({"name": "Bad", "model_id": lead_model, **bad})
            with self.assertRaises(ValidationError, msg=bad):
                step.mail_template_id = template
        # what the template reads, as the one who set up the step: a marketer does not read
        # the revenue, so the step stops instead of posting it in the chatter
        revenue = Template.create(
            {
                "name": "Revenue",
                "model_id": lead_model,
                "use_default_to": True,
                "subject": "Offer",
                "body_html": "<p>Revenue: <t t-out='object.expected_revenue'/></p>",
            }
        )
        step.with_user(self.marketer).mail_template_id = revenue
        step.delay_days = 2  # an administrator's later edit: the marketer chose the template
        self.assertEqual(step.template_user_id, self.marketer)
        lead = self.lose(expected_revenue=987654)
        with mute_logger("odoo.addons.crm_regulation.models.crm_lead_revival"):
            self.runner("2026-11-24 18:30:00")
        self.assertEqual(self.enrollment(lead).state, "stopped")
        self.assertFalse(lead.message_ids.filtered(lambda m: "987654" in str(m.body)))
        # a template turned to another model after it was chosen: stopped when it runs
        plain = Template.create(
            {"name": "Plain", "model_id": lead_model, "use_default_to": True, "subject": "Hi"}
        )
        step.mail_template_id = plain
        other = self.lose()
        plain.model_id = self.env["ir.model"]._get_id("res.partner")
        with mute_logger("odoo.addons.crm_regulation.models.crm_lead_revival"):
            self.runner("2026-11-24 18:30:00")
        self.assertEqual(self.enrollment(other).state, "stopped")
        self.assertIn("not for leads", self.enrollment(other).stop_reason)

    def test_a_new_lead_revives_only_what_its_creator_may_read(self):
        lead = self.lose()
        outsider = mail_new_test_user(
            self.env,
            login="revival_outsider",
            groups="crm_regulation.group_salesperson",
        )
        self.env["crm.team"].create({"name": "Other team", "member_ids": [(6, 0, outsider.ids)]})
        new = (
            self.env["crm.lead"]
            .with_user(outsider)
            .create({"name": "Mine", "email_from": lead.email_from})
        )
        self.assertEqual(self.enrollment(lead).state, "running")
        self.assertFalse(new.sudo().duplicate_of_id)
        self.assertEqual(new.sudo().outcome, "open")
        # another company's new lead (as the system: a web form) leaves it alone too
        company = self.env["res.company"].create({"name": "Other company"})
        self.env["crm.lead"].create(
            {"name": "Theirs", "email_from": lead.email_from, "company_id": company.id}
        )
        self.assertEqual(self.enrollment(lead).state, "running")

    def test_heads_of_sales_edit_their_teams_programs_only(self):
        head = mail_new_test_user(
            self.env, login="revival_head", groups="crm_regulation.group_head_of_sales"
        )
        team = self.env["crm.team"].create({"name": "Head's team", "user_id": head.id})
        stage = self.env["crm.stage"].create({"name": "Head's stage", "team_ids": team.ids})
        with self.assertRaises(AccessError):
            self.program.with_user(head).name = "Mine now"
        with self.assertRaises(AccessError):
            self.program.step_ids[0].with_user(head).delay_days = 0
        Program = self.env["crm.revival.program"].with_user(head)
        with self.assertRaises(ValidationError):
            Program.create({"name": "Everyone's", "reentry_stage_id": stage.id})
        with self.assertRaises(AccessError):
            Program.create(
                {
                    "name": "Theirs",
                    "team_ids": self.team.ids,
                    "reentry_stage_id": self.stage_new.id,
                }
            )
        own = Program.create(
            {"name": "Own", "team_ids": [(6, 0, team.ids)], "reentry_stage_id": stage.id}
        )
        own.name = "Own, renamed"
        self.assertEqual(self.program.with_user(head).name, "Families", "read, not edited")
        # nor by the write itself: to another team, to every team, a step into another program
        own.reentry_stage_id = self.env["crm.stage"].create({"name": "Every team's"})
        for command in ((4, self.team.id), (5,)):
            with self.assertRaises(AccessError, msg=command):
                own.write({"team_ids": [command]})
        step = (
            self.env["crm.revival.step"]
            .with_user(head)
            .create({"program_id": own.id, "action": "activity", "activity_type_id": self.call.id})
        )
        with self.assertRaises(AccessError):
            step.program_id = self.program
        self.assertEqual(own.sudo().team_ids, team)

    def test_activities_for_marketers_only(self):
        step = self.program.step_ids[1]
        portal = mail_new_test_user(self.env, login="revival_portal_2", groups="base.group_portal")
        for user in (portal, self.user_salesman_2):
            with self.assertRaises(ValidationError, msg=user.login):
                step.write({"activity_user": "marketer", "activity_user_id": user.id})
        step.write({"activity_user": "marketer", "activity_user_id": self.marketer.id})


@tagged("post_install", "-at_install")
class TestRevivalTours(RevivalCommon, HttpCase):
    def test_revive_from_the_lead_form(self):
        lead = self.lose()
        self.start_tour(
            f"/odoo/crm.lead/{lead.id}", "crm_regulation_revival_revive_tour", login="reg_manager"
        )
        self.assertEqual(self.enrollment(lead).state, "revived")
        self.assertEqual(lead.stage_id, self.stage_qualification)

    def test_a_programs_figures_per_step(self):
        self.marketer.password = "revival_marketer"
        self.program.name = "Tour families"
        self.lose()
        self.runner("2026-11-24 18:30:00")
        self.start_tour(
            "/odoo/action-crm_regulation.crm_revival_program_action",
            "crm_regulation_revival_figures_tour",
            login="revival_marketer",
        )
