import base64
import io
from contextlib import contextmanager
from unittest.mock import patch

import openpyxl

from odoo import sql_db
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged, users
from odoo.tools import mute_logger

from ..models.digest_digest import lock_key
from .test_kpi_dashboard import DashboardCommon


class WorkerKilled(BaseException):
    """A worker killed in the middle of a run (not an error the run would catch)."""


class DigestCommon(DashboardCommon):
    """The hand-built funnel of the week of 2 November 2026 and a weekly sales digest to the
    head of sales and the two salespeople."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.funnel["E"].name = '=HYPERLINK("http://x","y")'
        kpis = cls.env["crm.regulation.kpi"].search(
            [("code", "in", ("new_leads", "qualification_rate", "win_rate", "revenue_won"))]
        )
        cls.digest = cls.env["digest.digest"].create(
            {
                "name": "Sales week",
                "periodicity": "weekly",
                "crm_regulation": True,
                "crm_team_ids": [(6, 0, cls.team.ids)],
                "crm_kpi_ids": [(6, 0, kpis.ids)],
                "user_ids": [
                    (6, 0, (cls.user_manager | cls.user_salesman | cls.user_salesman_2).ids)
                ],
                "crm_active_since": "2026-11-02 00:00:00",
            }
        )

    def run_digests(self, when):
        with self.at(when), self.enter_registry_test_mode():
            self.env.ref("crm_regulation.ir_cron_regulation_digest").sudo().method_direct_trigger()
        self.env.invalidate_all()

    def mails(self, user=None, digest=None):
        digest = digest or self.digest
        mails = self.env["mail.mail"].sudo().search([("subject", "like", digest.name)])
        if user:
            mails = mails.filtered(lambda mail: mail.email_to == user.email_formatted)
        return mails

    def content(self, user, digest=None, when="2026-11-07 10:00:00"):
        digest = digest or self.digest
        with self.at(when):
            calendar = digest._crm_calendar(user)
            period = digest._crm_due_period(calendar, self.env.cr.now())
            return digest.with_context(tz=calendar.tz)._crm_content(user, period)

    def lines(self, content, section=0):
        return {line["code"]: line for line in content["sections"][section]["lines"]}

    def todo(self, content, key, section=0):
        return next(t for t in content["sections"][section]["todo"] if t["key"] == key)


class TestKpiDigestContent(DigestCommon):
    def test_kpi_lines_of_the_hand_built_funnel(self):
        self.env["crm.kpi.target"].create(
            {
                "kpi_code": "new_leads",
                "team_id": self.team.id,
                "period": "week",
                "date_start": "2026-11-02",
                "target": 10,
            }
        )
        content = self.content(self.user_manager)
        self.assertEqual(content["messages"], [])
        section = content["sections"][0]
        self.assertEqual(section["name"], "Regulated Team")
        self.assertFalse(section["own"])
        lines = self.lines(content)
        self.assertEqual(
            list(lines), ["new_leads", "qualification_rate", "win_rate", "revenue_won"]
        )
        new = lines["new_leads"]
        self.assertEqual((new["value"], new["previous"], new["change"]), (5, 1, 4))
        self.assertEqual(new["value_text"], "5")
        self.assertEqual(new["change_text"], "+4 (+400%)")
        self.assertIs(new["good"], True)
        # plan vs actual: 5 of 10 by the end of the week
        self.assertEqual((new["target"], new["share"], new["status"]), (10, 0.5, "behind"))
        self.assertEqual(new["plan_text"], "target 10, 50% reached: behind")
        # why: the salesperson whose figure moved most
        qualification = lines["qualification_rate"]
        self.assertEqual(qualification["value_text"], "60.0 %")
        self.assertEqual(qualification["change_text"], "+60.0 pts")
        self.assertEqual(
            qualification["why_text"], "Sasha Salesman moved most: 66.7 % against 0.0 %"
        )
        self.assertEqual(lines["revenue_won"]["value"], 1000)
        # the funnel: the stage whose conversion dropped most (none: no entries before)
        self.assertFalse(section["funnel_why"])

    def test_a_lower_is_better_kpi_going_up_is_bad(self):
        line = self.env["digest.digest"]._crm_line(
            self.env,
            {
                "code": "loss_rate",
                "name": "Loss rate",
                "unit": "percent",
                "value": 50.0,
                "previous": 20.0,
                "better": "down",
                "no_data": False,
                "denominator": "",
                "target": False,
                "target_share": False,
                "why": False,
            },
            self.company.currency_id,
            False,
        )
        self.assertIs(line["good"], False)
        self.assertEqual(line["change_text"], "+30.0 pts")
        why = {"name": "Qualification → Presentation", "value": 40.0, "previous": 60.0}
        self.assertEqual(
            self.env["digest.digest"]._crm_funnel_why_text(self.env, dict(why, points=20.0)),
            "Qualification → Presentation converted 40.0 % against 60.0 % (-20.0 pts)",
        )

    def test_what_to_do_links_each_lead_and_the_rest(self):
        self.digest.crm_todo_limit = 1
        content = self.content(self.user_manager)
        sla = self.todo(content, "sla")
        self.assertEqual(sla["count"], 1)
        self.assertEqual([lead["id"] for lead in sla["leads"]], self.funnel["D"].ids)
        base = self.digest.get_base_url()
        self.assertEqual(sla["leads"][0]["url"], f"{base}/odoo/crm.lead/{self.funnel['D'].id}")
        # D, E, F have no next activity: one listed, "and 2 more" to the filtered list
        idle = self.todo(content, "no_activity")
        self.assertEqual((idle["count"], len(idle["leads"]), idle["more"]), (3, 1, 2))
        self.assertEqual(
            idle["url"],
            f"{base}/odoo/{self.team.id}/action-crm_regulation.action_crm_lead_todo_no_activity",
        )
        # the link opens the same list, under the user's rights
        action = (
            self.env["crm.team"]
            .with_user(self.user_manager)
            .with_context(active_id=self.team.id)
            ._regulation_todo_action("no_activity")
        )
        leads = self.env["crm.lead"].with_user(self.user_manager).search(action["domain"])
        self.assertEqual(leads, self.funnel["D"] | self.funnel["E"] | self.funnel["F"])

    def test_salesperson_gets_their_own_figures_and_leads(self):
        content = self.content(self.user_salesman)
        section = content["sections"][0]
        self.assertEqual(section["own"], self.user_salesman)
        lines = self.lines(content)
        self.assertEqual(lines["new_leads"]["value"], 3, "A, B, C")
        self.assertEqual(lines["new_leads"]["why_text"], "", "no why among one")
        self.assertFalse(self.todo(content, "sla")["count"], "D is Pavel's")
        self.assertEqual(
            {lead["id"] for lead in self.todo(content, "no_activity")["leads"]},
            set(self.funnel["F"].ids),
        )
        self.assertEqual([p["name"] for p in section["people"]], ["Sasha Salesman"])
        pavel = self.content(self.user_salesman_2)
        self.assertEqual(self.todo(pavel, "sla")["leads"][0]["id"], self.funnel["D"].id)
        # the "and more" list of a salesperson is theirs too
        action = (
            self.env["crm.team"]
            .with_user(self.user_salesman)
            .with_context(active_id=self.team.id)
            ._regulation_todo_action("no_activity")
        )
        self.assertIn(("user_id", "=", self.user_salesman.id), action["domain"])

    def test_marketer_recipient_gets_no_revenue(self):
        marketer = self.env["res.users"].create(
            {
                "name": "Mila Marketer",
                "login": "digest_marketer",
                "email": "mila@example.com",
                "group_ids": [(6, 0, self.env.ref("crm_regulation.group_marketer").ids)],
            }
        )
        content = self.content(marketer)
        lines = self.lines(content)
        self.assertIn("new_leads", lines)
        self.assertNotIn("revenue_won", lines)
        book = openpyxl.load_workbook(
            io.BytesIO(self.digest._crm_workbook(marketer, content)), read_only=True
        )
        headers = [cell.value for cell in next(book["Salespeople"].iter_rows(max_row=1))]
        self.assertNotIn("Revenue won", headers)
        summary = [row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)]
        self.assertNotIn("Revenue won", summary)

    def test_leads_without_a_salesperson(self):
        with self.at("2026-11-03 10:00:00"):
            self.env["crm.lead"].create(
                {
                    "name": "Nobody's",
                    "type": "opportunity",
                    "team_id": self.team.id,
                    "user_id": False,
                }
            )
        content = self.content(self.user_manager)
        people = content["sections"][0]["people"]
        self.assertEqual(people[-1]["name"], "Unassigned")
        self.assertTrue(self.digest._crm_workbook(self.user_manager, content))

    def test_queries_per_recipient_do_not_grow_with_the_lists(self):
        self.digest.crm_workbook = False

        def count():
            self.env.invalidate_all()
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            self.content(self.user_manager)
            return self.env.cr.sql_log_count - before

        self.content(self.user_manager)  # (warm-up: caches of the registry)
        small = count()
        self._create_leads(30, user=self.user_salesman_2)
        capped = count()
        # past the cap, a list costs one count more, and no more whatever its length
        self.assertLessEqual(capped - small, 6)
        self._create_leads(60, user=self.user_salesman_2)
        self.assertEqual(count(), capped)


class TestKpiDigestBadInput(DigestCommon):
    def test_team_the_recipient_cannot_read_and_a_kpi_that_no_longer_exists(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere"})
        hidden = self.env["crm.team"].create(
            {"name": "Elsewhere Team", "company_id": other_company.id}
        )
        self.digest.crm_team_ids |= hidden
        gone = self.env.ref("crm_regulation.kpi_stage_hours_median")
        self.env.cr.execute("UPDATE crm_regulation_kpi SET code = 'gone' WHERE id = %s", [gone.id])
        gone.invalidate_recordset()
        self.digest.crm_kpi_ids |= gone
        content = self.content(self.user_manager)
        self.assertEqual(
            content["messages"],
            [
                "A sales team of this digest is outside your access: not in it.",
                "The KPI gone no longer exists: remove it from the digest.",
            ],
        )
        self.assertEqual(len(content["sections"]), 1)

    def test_period_without_data_and_digest_without_recipients(self):
        content = self.content(self.user_manager, when="2021-03-06 10:00:00")
        lines = self.lines(content)
        self.assertEqual(lines["win_rate"]["value_text"], "no data")
        self.assertIsNone(lines["win_rate"]["good"])
        self.assertEqual(lines["new_leads"]["value_text"], "0")
        self.assertEqual(lines["new_leads"]["change_text"], "0")
        self.digest.user_ids = False
        self.run_digests("2026-11-07 10:00:00")
        self.assertFalse(self.mails())

    def test_employee_without_the_crm_gets_a_message_not_a_crash(self):
        employee = self.env["res.users"].create(
            {
                "name": "Emil Employee",
                "login": "digest_employee",
                "email": "emil@example.com",
                "group_ids": [(6, 0, self.env.ref("base.group_user").ids)],
            }
        )
        content = self.content(employee)
        self.assertFalse(content["sections"])
        self.assertEqual(len(content["messages"]), 1)

    def test_limits_of_the_lists(self):
        with self.refused("1 to 50 leads", Exception):
            self.digest.crm_todo_limit = 0
        digest = self.digest.new({"crm_kpi_ids": self.env["crm.regulation.kpi"].search([]).ids})
        self.assertIn("no more than five", digest._onchange_crm_kpi_ids()["warning"]["message"])


class TestKpiDigestSending(DigestCommon):
    def test_sent_once_per_recipient_and_period_under_reruns(self):
        self.run_digests("2026-11-06 17:59:00")  # the week's last working hour
        self.assertFalse(self.mails().filtered(lambda m: "11/02/2026" in m.subject))
        self.run_digests("2026-11-06 18:05:00")
        self.run_digests("2026-11-06 18:20:00")
        self.run_digests("2026-11-08 10:00:00")  # Sunday
        mails = self.mails().filtered(lambda m: "11/02/2026" in m.subject)
        self.assertEqual(len(mails), 3)
        self.assertEqual(
            sorted(mails.mapped("email_to")),
            sorted(
                (self.user_manager | self.user_salesman | self.user_salesman_2).mapped(
                    "email_formatted"
                )
            ),
        )
        self.assertEqual(mails.mapped("state"), ["outgoing"] * 3)
        self.assertEqual(self.digest.crm_log_count, 3)

    def logs(self):
        return (
            self.env["crm.regulation.digest.log"]
            .sudo()
            .search([("digest_id", "=", self.digest.id)])
        )

    def test_crash_after_the_first_recipient_resumes_without_repeating(self):
        original = type(self.env["digest.digest"])._crm_send
        calls = []

        def killed_on_second(digest, user, period=None, preview=False):
            calls.append(user)
            if len(calls) == 2:
                raise WorkerKilled()
            return original(digest, user, period, preview)

        killed = False
        try:
            with (
                self.at("2026-11-06 18:30:00"),
                self.enter_registry_test_mode(),
                patch.object(type(self.env["digest.digest"]), "_crm_send", killed_on_second),
                self.registry.cursor() as cron_cr,
            ):
                self.env(cr=cron_cr, su=True)["digest.digest"]._cron_send_regulation_digests()
        except WorkerKilled:
            killed = True
        self.assertTrue(killed)
        self.env.invalidate_all()
        self.assertEqual(len(self.logs()), 1, "the first recipient's digest was committed")
        self.run_digests("2026-11-06 18:45:00")
        self.assertEqual(len(self.logs()), 3)
        for user in self.user_manager | self.user_salesman | self.user_salesman_2:
            self.assertEqual(len(self.mails(user)), 1, user.name)

    def test_second_worker_skips_the_recipient_being_sent(self):
        # another worker is writing Pavel's digest (it holds its lock)
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute(
                "SELECT pg_advisory_lock(%s)", [lock_key(self.digest.id, self.user_salesman_2.id)]
            )
            self.run_digests("2026-11-06 18:30:00")
            self.assertEqual(len(self.mails()), 2)
            self.assertFalse(self.mails(self.user_salesman_2))
            other.execute("SELECT pg_advisory_unlock_all()")
        self.run_digests("2026-11-06 18:45:00")
        self.run_digests("2026-11-06 19:00:00")
        self.assertEqual(len(self.mails(self.user_salesman_2)), 1)
        self.assertEqual(len(self.mails()), 3)

    @contextmanager
    def broken_for_sasha(self):
        """Sasha's digest fails (a bug of theirs), the others' do not."""
        original = type(self.env["digest.digest"])._crm_content

        def broken(digest, user, period):
            if user == self.user_salesman:
                raise ValueError("broken")
            return original(digest, user, period)

        with (
            patch.object(type(self.env["digest.digest"]), "_crm_content", broken),
            mute_logger("odoo.addons.crm_regulation.models.digest_digest"),
        ):
            yield

    def test_one_recipients_failure_does_not_stop_the_others(self):
        with self.broken_for_sasha():
            self.run_digests("2026-11-06 18:30:00")
        self.assertEqual(len(self.mails()), 2)
        failed = self.logs().filtered(lambda log: log.user_id == self.user_salesman)
        self.assertEqual((failed.state, failed.attempts, failed.error), ("failed", 1, "broken"))
        self.assertEqual(self.digest.crm_log_count, 2, "the digests sent")
        self.run_digests("2026-11-06 18:45:00")
        self.assertEqual(len(self.mails(self.user_salesman)), 1, "retried at the next run")
        self.assertEqual((failed.state, failed.error), ("sent", False))

    def test_a_recipient_failing_for_good_is_tried_three_times(self):
        with self.broken_for_sasha():
            for minute in range(10, 60, 10):
                self.run_digests(f"2026-11-06 18:{minute}:00")
        failed = self.logs().filtered(lambda log: log.user_id == self.user_salesman)
        self.assertEqual((failed.state, failed.attempts), ("failed", 3))
        self.assertEqual(len(self.mails()), 2)

    def test_daily_schedule_across_a_weekend_and_a_time_zone(self):
        # Vladivostok (UTC+10), Monday to Friday 9:00-18:00: the working day ends 08:00 UTC
        calendar = self._calendar("Vladivostok", "Asia/Vladivostok", ((9, 18),))
        team = self.env["crm.team"].create(
            {
                "name": "Far East",
                "user_id": self.user_manager.id,
                "resource_calendar_id": calendar.id,
            }
        )
        daily = self.digest.copy(
            {
                "name": "Far East day",
                "periodicity": "daily",
                "crm_team_ids": [(6, 0, team.ids)],
                "user_ids": [(6, 0, self.user_manager.ids)],
                "crm_active_since": "2026-11-01 00:00:00",
            }
        )
        for when in (
            "2026-11-05 07:59:00",  # Thursday 17:59 there: Wednesday's
            "2026-11-05 08:00:00",  # Thursday 18:00 there: Thursday's
            "2026-11-05 20:00:00",  # Friday 06:00 there: nothing new
            "2026-11-06 08:30:00",  # Friday's
            "2026-11-07 08:30:00",  # Saturday: no digest
            "2026-11-08 08:30:00",  # Sunday: no digest
            "2026-11-09 07:00:00",  # Monday 17:00 there: not yet
        ):
            self.run_digests(when)
        subjects = sorted(self.mails(digest=daily).mapped("subject"))
        self.assertEqual(len(subjects), 3, subjects)
        for day in ("11/04/2026", "11/05/2026", "11/06/2026"):
            self.assertTrue(any(day in subject for subject in subjects), day)
        # a missed Monday to Wednesday is caught up once, with Wednesday's
        self.run_digests("2026-11-12 06:00:00")  # Thursday 16:00 there
        subjects = self.mails(digest=daily).mapped("subject")
        self.assertEqual(len(subjects), 4, subjects)
        self.assertTrue(any("11/11/2026" in subject for subject in subjects))
        # a public holiday is no working day
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Holiday",
                "calendar_id": calendar.id,
                "date_from": "2026-11-11 14:00:00",  # Thursday there, all day
                "date_to": "2026-11-12 14:00:00",
            }
        )
        self.run_digests("2026-11-12 09:00:00")
        self.assertEqual(len(self.mails(digest=daily)), 4)

    def test_periods_before_the_digest_was_switched_on_are_never_sent(self):
        self.digest.state = "deactivated"
        with self.at("2026-11-09 09:00:00"):
            self.digest.action_activate()
        self.assertEqual(str(self.digest.crm_active_since), "2026-11-09 09:00:00")
        self.run_digests("2026-11-09 10:00:00")
        self.assertFalse(self.mails())
        self.run_digests("2026-11-13 18:30:00")
        self.assertEqual(len(self.mails()), 3)

    def test_switching_on_and_off(self):
        with self.at("2026-11-09 09:00:00"):
            self.digest.action_activate()  # already on: sending does not start again
        self.assertEqual(str(self.digest.crm_active_since), "2026-11-02 00:00:00")
        self.digest.crm_regulation = False  # back to Odoo's own digest and schedule
        self.assertTrue(self.digest.next_run_date)
        self.digest.crm_regulation = True
        self.assertFalse(self.digest.next_run_date)

    def test_odoo_schedule_leaves_sales_digests_to_theirs(self):
        self.assertFalse(self.digest.next_run_date)
        with self.at("2026-11-07 10:00:00"):
            self.env["digest.digest"]._cron_send_digest_email()
            self.digest._action_send()  # Odoo's own path: what is due, once
            self.digest._action_send()
        self.assertEqual(len(self.mails()), 3)

    @users("reg_manager")
    def test_preview_now_as_the_current_user(self):
        digest = self.digest.with_user(self.env.user)
        with self.at("2026-11-07 10:00:00"):
            result = digest.action_crm_send_preview()
        self.assertEqual(result["params"]["type"], "success")
        mail = self.mails(self.user_manager)
        self.assertEqual(len(mail), 1)
        self.assertTrue(mail.subject.startswith("[Preview]"))
        self.assertFalse(self.logs(), "the scheduled digest still comes")
        # "Send Now" e-mails every recipient: only for those who may change the digest
        with self.assertRaises(AccessError):
            digest.action_send_manual()
        with self.assertRaises(AccessError):
            digest.action_send()
        self.run_digests("2026-11-07 10:30:00")
        self.assertEqual(len(self.mails(self.user_manager)), 2)

    def test_lower_roles_do_not_configure_digests(self):
        """The recipients, roles and teams of a digest are its administrator's: a head of
        sales cannot add themselves to a role's digest by x2many commands."""
        digest = self.digest.with_user(self.user_manager)
        for values in (
            {"crm_group_ids": [(4, self.env.ref("base.group_system").id)]},
            {"crm_unsubscribed_ids": [(5, 0, 0)]},
            {"crm_team_ids": [(0, 0, {"name": "Mine"})]},
            {"user_ids": [(4, self.user_salesman.id)]},
        ):
            with self.assertRaises(AccessError, msg=values):
                digest.write(values)
        self.assertFalse(self.env["crm.team"].search([("name", "=", "Mine")]))

    def test_unsubscribing_from_a_role_digest(self):
        self.digest.write(
            {
                "user_ids": False,
                "crm_group_ids": [(6, 0, self.env.ref("sales_team.group_sale_manager").ids)],
            }
        )
        self.assertIn(self.user_manager, self.digest._crm_recipients())
        self.digest.with_user(self.user_manager).action_unsubscribe()
        self.assertNotIn(self.user_manager, self.digest._crm_recipients())
        self.assertFalse(self.digest.with_user(self.user_manager).is_subscribed)
        self.digest.with_user(self.user_manager).action_subscribe()
        self.assertIn(self.user_manager, self.digest._crm_recipients())

    def test_the_mail_and_its_workbook(self):
        self.run_digests("2026-11-06 18:30:00")
        mail = self.mails(self.user_manager)
        body = str(mail.body_html)
        self.assertIn("Regulated Team", body)
        self.assertIn("What to do", body)
        self.assertIn(f"/odoo/crm.lead/{self.funnel['D'].id}", body)
        self.assertIn("/unsubscribe?", body)
        self.assertIn("List-Unsubscribe", mail.headers)
        self.assertEqual(mail.attachment_ids.name, "sales-digest-2026-11-02.xlsx")
        book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(mail.attachment_ids.datas)))
        self.assertEqual(book.sheetnames, ["Summary", "Funnel", "Salespeople", "To do"])
        summary = book["Summary"]
        self.assertEqual(summary.freeze_panes, "A2")
        self.assertTrue(summary.auto_filter.ref)
        new = next(row for row in summary.iter_rows(min_row=2) if row[1].value == "New leads")
        self.assertEqual((new[2].value, new[2].data_type), (5, "n"))
        funnel = book["Funnel"]
        self.assertEqual(len(funnel._charts), 1, "a native Excel chart")
        self.assertEqual(funnel["D2"].number_format, "0.0%")
        todo = book["To do"]
        names = {row[2].value: row[2] for row in todo.iter_rows(min_row=2)}
        injected = names['=HYPERLINK("http://x","y")']
        self.assertEqual(injected.data_type, "s", "a lead's name stays text")
        self.assertTrue(injected.hyperlink.target.endswith(f"/odoo/crm.lead/{self.funnel['E'].id}"))
        created = next(row[5] for row in todo.iter_rows(min_row=2))
        self.assertTrue(created.is_date)


@tagged("post_install", "-at_install")
class TestKpiDigestRussian(DigestCommon):
    def test_russian_recipient(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"].search([("name", "=", "crm_regulation")])._update_translations(
            "ru_RU"
        )
        self.user_manager.lang = "ru_RU"
        self.run_digests("2026-11-06 18:30:00")
        body = str(self.mails(self.user_manager).body_html)
        self.assertIn("Что сделать", body)


@tagged("post_install", "-at_install")
class TestKpiDigestTour(DigestCommon, HttpCase):
    def test_the_and_more_link_opens_the_filtered_list(self):
        self.start_tour(
            f"/odoo/{self.team.id}/action-crm_regulation.action_crm_lead_todo_no_activity",
            "crm_regulation_digest_todo_tour",
            login="reg_salesman",
        )

    def test_preview_from_the_digest_form(self):
        self.start_tour(
            f"/odoo/digest.digest/{self.digest.id}",
            "crm_regulation_digest_preview_tour",
            login="reg_manager",
        )
        mail = self.mails(self.user_manager)
        self.assertEqual(len(mail), 1)
        self.assertTrue(mail.subject.startswith("[Preview]"))
