from datetime import datetime
from unittest.mock import patch

from odoo.exceptions import AccessError

from .common import CrmRegulationCommon, load_migration


class TestLeadFirstContact(CrmRegulationCommon):
    """The first contact: the first done call or meeting (the company's types), or the first
    message sent to the customer; not a note, not the customer's own e-mail, not a task."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.call = cls.env.ref("mail.mail_activity_data_call")
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")
        cls.company.crm_first_contact_activity_type_ids = cls.call | cls.env.ref(
            "mail.mail_activity_data_meeting"
        )
        # speed counted in the team's working hours: 9-13 and 14-18 UTC, Monday to Friday
        cls.team.resource_calendar_id = cls._calendar("Sales hours", "UTC", ((9, 13), (14, 18)))
        # Sasha's customer (a salesperson names only contacts they may read)
        cls.customer = cls.env["res.partner"].create(
            {"name": "Customer", "email": "customer@example.com", "user_id": cls.user_salesman.id}
        )

    def lead(self):
        return self._create_leads(1, partner_id=self.customer.id)

    def done(self, lead, activity_type, when):
        with self.at(when):
            lead.with_user(self.user_salesman).activity_schedule(
                activity_type_id=activity_type.id, user_id=self.user_salesman.id
            ).action_done()

    def test_first_done_call_or_meeting(self):
        with self.at("2026-11-02 09:00:00"):
            lead = self.lead()
        self.done(lead, self.todo, "2026-11-02 10:00:00")
        self.assertFalse(lead.first_contact_date, "a to-do is no contact")
        self.done(lead, self.call, "2026-11-02 11:30:00")
        self.assertEqual(lead.first_contact_date, datetime(2026, 11, 2, 11, 30))
        self.assertEqual(lead.first_contact_hours, 2.5)
        self.done(lead, self.call, "2026-11-03 09:00:00")
        self.assertEqual(lead.first_contact_date, datetime(2026, 11, 2, 11, 30), "the first")

    def test_first_message_sent_to_the_customer(self):
        with self.at("2026-11-02 09:00:00"):
            lead = self.lead()
        Lead = lead.with_user(self.user_salesman)
        with self.at("2026-11-02 09:10:00"):
            Lead.message_post(
                body="Internal thought", message_type="comment", subtype_xmlid="mail.mt_note"
            )
            lead.with_user(self.user_salesman).sudo().message_post(
                body="Hello from the customer",
                message_type="email",
                author_id=self.customer.id,
                subtype_xmlid="mail.mt_comment",
            )
        self.assertFalse(lead.first_contact_date, "a note, an e-mail received: no contact")
        with self.at("2026-11-02 09:20:00"):
            Lead.message_post(
                body="Thanks, here is our offer",
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        self.assertEqual(lead.first_contact_date, datetime(2026, 11, 2, 9, 20))

    def test_company_types_and_backfill(self):
        with self.at("2026-11-02 09:00:00"):
            lead = self.lead()
        self.done(lead, self.todo, "2026-11-02 10:00:00")
        self.assertFalse(lead.first_contact_date)
        # the company counts to-dos from now on: its leads are looked at again
        self.company.crm_first_contact_activity_type_ids |= self.todo
        self.assertEqual(lead.first_contact_date, datetime(2026, 11, 2, 10, 0))
        self.assertEqual(lead.first_contact_hours, 1.0, "in business hours, at backfill too")

    def test_kept_by_the_regulation_only(self):
        lead = self.lead()
        with self.assertRaises(AccessError):
            lead.with_user(self.user_salesman).write({"first_contact_date": "2026-11-01"})
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(self.user_salesman).create(
                {"name": "Backdated", "first_contact_date": "2026-11-01"}
            )

    def test_only_candidate_messages_cost_a_statement(self):
        """Tracking messages, notifications and e-mails received are told apart from their
        values: only a done activity or a comment (a message or a note) costs the UPDATE."""
        lead = self.lead()
        Leads = type(self.env["crm.lead"])
        calls = []
        sql = Leads._first_contact_sql

        def counting(model, where):
            calls.append(where)
            return sql(model, where)

        with patch.object(Leads, "_first_contact_sql", counting):
            lead.with_user(self.user_salesman).write({"expected_revenue": 5})
            self.env.cr.precommit.run()  # (tracking messages)
            lead.message_post(body="Received", message_type="email", author_id=self.customer.id)
            self.assertEqual(calls, [])
            lead.with_user(self.user_salesman).message_post(
                body="Offer", message_type="comment", subtype_xmlid="mail.mt_comment"
            )
            self.assertEqual(len(calls), 1)
        self.assertTrue(lead.first_contact_date)

    def test_upgrade_fills_the_hours_of_leads_already_contacted(self):
        with self.at("2026-11-02 09:00:00"):
            lead = self.lead()
        self.done(lead, self.call, "2026-11-02 15:00:00")
        self.env.cr.execute(
            "UPDATE crm_lead SET first_contact_hours = NULL WHERE id = %s", [lead.id]
        )
        lead.invalidate_recordset(["first_contact_hours"])
        # (19.0.1.7.0's plan rules did not apply to reading)
        rules = self.env.ref("crm_regulation.crm_kpi_target_rule_head") | self.env.ref(
            "crm_regulation.crm_kpi_target_rule_manager"
        )
        rules.perm_read = False
        migration = load_migration("19.0.1.8.0")
        migration.migrate(self.env.cr, "19.0.1.7.0")
        self.assertEqual(lead.first_contact_hours, 5.0, "9-13 and 14-15")
        self.assertEqual(rules.mapped("perm_read"), [True, True])
