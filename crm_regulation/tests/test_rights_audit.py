from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .role_matrix_common import RoleMatrixCommon


@tagged("post_install", "-at_install")
class TestRightsAudit(RoleMatrixCommon):
    """A database with deliberately over-privileged users, audited as a CRM administrator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.users["crm_admin"]

        def user(login, *groups):
            new = cls._user(login, login.replace("_", " ").title(), "salesperson")
            new.group_ids = [(4, cls.env.ref(group).id) for group in groups]
            return new

        cls.settings_salesperson = user("au_settings", "base.group_system")
        cls.exporting_salesperson = user("au_export", "base.group_allow_export")
        cls.technical = user("au_technical", "base.group_erp_manager")
        cls.all_documents = user("au_all", "sales_team.group_sale_salesman_all_leads")
        cls.head_and_marketer = cls._user("au_mixed", "Head And Marketer", "head_of_sales")
        cls.head_and_marketer.group_ids = [(4, cls.env.ref("crm_regulation.group_marketer").id)]
        cls.odoo_manager = cls._user("au_odoo", "Odoo Manager", "salesperson")
        cls.odoo_manager.group_ids = [(6, 0, cls.env.ref("sales_team.group_sale_manager").ids)]
        cls.archived = user("au_archived")
        request = (
            cls.env["crm.access.request"]
            .with_user(cls.archived)
            .create(
                {
                    "reason": "Audit",
                    "lead_ids": [(6, 0, cls._lead(cls.colleague, cls.team).ids)],
                    "date_end": fields.Datetime.now() + timedelta(days=5),
                }
            )
        )
        request.with_user(cls.users["head_of_sales"]).action_approve(request.revision)
        cls.archived.active = False
        # everyone logged in lately but the dormant salesperson; the head of sales 3 times
        for member in (*cls.users.values(), cls.settings_salesperson, cls.exporting_salesperson):
            cls.env["res.users.log"].with_user(member).sudo().create({})
        # logins: one session each (Odoo keeps one row per session), the head of sales 3
        now = fields.Datetime.now()
        for index, member in enumerate(
            (*cls.users.values(), cls.settings_salesperson, cls.exporting_salesperson)
        ):
            sessions = 3 if member == cls.users["head_of_sales"] else 1
            cls.env["res.device.log"].create(
                [
                    {
                        "session_identifier": f"audit-{index}-{session}",
                        "user_id": member.id,
                        "first_activity": now,
                        "last_activity": now,
                        "platform": "linux",
                        "browser": "chrome",
                        "ip_address": "127.0.0.1",
                    }
                    for session in range(sessions)
                ]
            )
        # an old session does not count in the last 30 days
        cls.env["res.device.log"].create(
            {
                "session_identifier": "audit-old",
                "user_id": cls.users["head_of_sales"].id,
                "first_activity": now - timedelta(days=40),
                "last_activity": now - timedelta(days=40),
            }
        )
        cls.dormant = cls.colleague

    def audit(self):
        self.env["crm.rights.audit"].with_user(self.admin).action_open()
        rows = self.env["crm.rights.audit"].with_user(self.admin).with_context(active_test=False)
        return {row.user_id: row for row in rows.search([])}

    def test_the_over_privileged_are_flagged_with_the_reason(self):
        rows = self.audit()
        expected = {
            self.settings_salesperson: "Administration / Settings",
            self.exporting_salesperson: "Export of every list",
            self.technical: "Administration / Access Rights",
            self.all_documents: "All Documents",
            self.head_and_marketer: "add up",
            self.odoo_manager: "Sales / Administrator without",
            self.archived: "Archived with a temporary access",
            self.dormant: "No login for 90 days",
        }
        for user, reason in expected.items():
            with self.subTest(user=user.login):
                self.assertTrue(rows[user].flagged)
                self.assertIn(reason, rows[user].flag_reasons)
        for role in ("salesperson", "head_of_sales", "crm_admin", "marketer", "accountant"):
            with self.subTest(role=role):
                self.assertFalse(
                    rows[self.users[role]].flagged, rows[self.users[role]].flag_reasons
                )
        head = rows[self.users["head_of_sales"]]
        self.assertEqual((head.role, head.export, head.logins_30_days), ("head_of_sales", True, 3))
        self.assertTrue(head.last_login)
        self.assertEqual(rows[self.settings_salesperson].role, "salesperson")
        self.assertTrue(rows[self.settings_salesperson].settings)
        self.assertTrue(rows[self.archived].temporary_end)
        self.assertEqual(rows[self.head_and_marketer].roles.count(","), 4)  # head's family + M
        self.assertNotIn(self.env.ref("base.user_root"), rows)
        # rebuilt, not added to
        count = len(rows)
        self.assertEqual(len(self.audit()), count)

    def test_printable_and_exportable_by_the_crm_administrator_only(self):
        rows = self.env["crm.rights.audit"].with_user(self.admin)
        rows.action_open()
        rows = rows.search([("flagged", "=", True)])
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("crm_regulation.crm_rights_audit_report", rows.ids)[0]
            .decode()
        )
        self.assertIn("Au Settings", html)
        self.assertIn("Administration / Settings", html)
        exported = rows.export_data(["login", "flag_reasons"])["datas"]
        self.assertIn("au_settings", [line[0] for line in exported])
        for role in ("head_of_sales", "salesperson", "marketer"):
            with self.subTest(role=role), self.assertRaises(AccessError):
                self.env["crm.rights.audit"].with_user(self.users[role]).action_open()
            with self.subTest(role=role), self.assertRaises(AccessError):
                self.env["crm.rights.audit"].with_user(self.users[role]).search([])

    def test_monthly_e_mail_once_per_month(self):
        Mail = self.env["mail.mail"]
        admins = self.env.ref("crm_regulation.group_crm_admin").all_user_ids.filtered("email")
        cron = self.env.ref("crm_regulation.ir_cron_rights_audit").sudo()

        def run():
            with self.enter_registry_test_mode():
                cron.method_direct_trigger()
            self.env.invalidate_all()

        def sent():
            # the flagged users' names are in every language's e-mail
            return Mail.search([("body_html", "ilike", "Au Settings")])

        with freeze_time("2026-12-02 06:00"):
            run()
            first = sent()
            self.assertEqual(len(first), len(admins))
            self.assertIn(self.admin.email, " ".join(first.mapped("email_to")))
            self.assertIn("more rights than their CRM role", first[0].subject)
            run()  # rerun: nothing twice
            self.assertEqual(sent(), first)
        # next month, in the administrator's language
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"].search([("name", "=", "crm_regulation")])._update_translations(
            "ru_RU"
        )
        self.admin.lang = "ru_RU"
        with freeze_time("2027-01-01 06:00"):
            run()
            second = sent() - first
            self.assertEqual(len(second), len(admins))
            russian = second.filtered(lambda mail: self.admin.email in mail.email_to)
            self.assertIn(
                "Администрирование / Настройки без роли администратора CRM.", russian.body_html
            )
