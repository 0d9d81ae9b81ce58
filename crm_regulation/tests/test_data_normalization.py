from datetime import datetime

from odoo.exceptions import AccessError, UserError
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import CrmRegulationCommon

CREATED = datetime(2026, 11, 2, 9, 0)


class TestDataNormalization(CrmRegulationCommon):
    """Existing leads and contacts of a Russian company, entered while its phone standard
    was off, then normalized after it is switched to "flag":

    ========  ===================================  ==========================================
    record    as entered                           normalized
    ========  ===================================  ==========================================
    lead 1    phone 89001234567                    +7 (900) 123-45-67
    lead 2    phone +7 (900) 765-43-21             untouched (already to the standard)
    lead 3    phone 12ab                           untouched, counted invalid
    lead 4    company «ООО «Ромашка»»              legal form ООО (the name as typed)
    lead 5    name only                            not even read (nothing to normalize)
    contact   company "Рога и копыта, ООО",        legal form ООО, phone +7 (900) 111-22-33
              phone 8 (900) 111-22-33
    person    phone +7 900 555 66 77               +7 (900) 555-66-77
    ========  ===================================  ==========================================
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ru_company = cls.env["res.company"].create(
            {"name": "Normalized Co", "country_id": cls.env.ref("base.ru").id}
        )
        cls.admin = mail_new_test_user(
            cls.env,
            login="norm_admin",
            name="Nina Admin",
            groups="crm_regulation.group_crm_admin",
            company_id=cls.ru_company.id,
            company_ids=[(6, 0, cls.ru_company.ids)],
        )
        cls.head = mail_new_test_user(
            cls.env,
            login="norm_head",
            name="Hanna Head",
            groups="crm_regulation.group_head_of_sales",
            company_id=cls.ru_company.id,
            company_ids=[(6, 0, cls.ru_company.ids)],
        )
        # the records of the other companies and of none stay out of this test's counts
        cls.env.cr.execute(
            "UPDATE crm_lead SET company_id = %s WHERE company_id IS NULL", [cls.company.id]
        )
        cls.env.cr.execute(
            "UPDATE res_partner SET company_id = %s WHERE company_id IS NULL", [cls.company.id]
        )
        Lead = cls.env["crm.lead"].with_company(cls.ru_company)
        with cls.at(cls, CREATED):
            cls.leads = Lead.create(
                [
                    {"name": "Lead 1", "phone": "89001234567"},
                    {"name": "Lead 2", "phone": "+7 (900) 765-43-21"},
                    {"name": "Lead 3", "phone": "12ab"},
                    {"name": "Lead 4", "partner_name": "ООО «Ромашка»"},
                    {"name": "Lead 5"},
                ]
            )
            cls.leads.write({"company_id": cls.ru_company.id, "team_id": False, "user_id": False})
            Partner = cls.env["res.partner"].with_company(cls.ru_company)
            cls.firm = Partner.create(
                {
                    "name": "Рога и копыта, ООО",
                    "is_company": True,
                    "phone": "8 (900) 111-22-33",
                    "company_id": cls.ru_company.id,
                }
            )
            cls.person = Partner.create(
                {
                    "name": "Ivan Petrov",
                    "phone": "+7 900 555 66 77",
                    "company_id": cls.ru_company.id,
                }
            )
        # entered before the data standard: no legal form split off yet
        cls.env.cr.execute(
            "UPDATE crm_lead SET legal_form = NULL WHERE id = ANY(%s)", [cls.leads.ids]
        )
        cls.env.cr.execute("UPDATE res_partner SET legal_form = NULL WHERE id = %s", [cls.firm.id])
        cls.env.invalidate_all()
        cls.ru_company.crm_phone_standard = "flag"
        cls.lead_1, cls.lead_2, cls.lead_3, cls.lead_4, cls.lead_5 = cls.leads

    def new_run(self, user=None, **values):
        return (
            self.env["crm.data.normalization"]
            .with_user(user or self.admin)
            .create({"company_id": self.ru_company.id, "batch_size": 2, **values})
        )

    def messages(self, records):
        return self.env["mail.message"].search(
            [("model", "=", records._name), ("res_id", "in", records.ids)]
        )

    def snapshot(self):
        self.env.invalidate_all()
        records = [*self.leads, self.firm, self.person]
        return {
            (record._name, record.id): (
                record.write_date,
                record.phone,
                record.legal_form,
                record[record._data_standard_name_field],
                len(self.messages(record)),
            )
            for record in records
        }

    def run_cron(self):
        with self.at("2026-11-10 12:00:00"), self.enter_registry_test_mode():
            self.env.ref("crm_regulation.ir_cron_data_normalization").sudo().method_direct_trigger()
        self.env.invalidate_all()

    def test_dry_run_counts_and_writes_nothing(self):
        before = self.snapshot()
        run = self.new_run()
        run.action_dry_run()
        self.assertEqual(run.state, "counting")
        self.run_cron()
        self.assertEqual(self.snapshot(), before, "no write, no message")
        self.assertEqual(run.state, "counted")
        # leads 1-4 and the two contacts read (lead 5 has nothing to normalize); lead 1,
        # lead 4 and both contacts would change; lead 3 is invalid
        self.assertEqual(
            (
                run.dry_checked,
                run.dry_changed,
                run.dry_phone,
                run.dry_name_split,
                run.dry_invalid,
            ),
            (6, 4, 3, 2, 1),
        )
        leads_only = self.new_run(scope="leads", do_names=False)
        leads_only.action_dry_run()
        self.run_cron()
        self.assertIn("89001234567 → +7 (900) 123-45-67", leads_only.log_changes, "a preview")
        self.assertEqual((leads_only.dry_checked, leads_only.dry_changed), (3, 1))
        # a change of setup makes the counts stale
        run.scope = "contacts"
        self.assertEqual(run.state, "draft")
        with self.refused("dry run first"):
            run.action_normalize()

    def test_normalize_in_batches_then_rerun(self):
        before = self.snapshot()
        run = self.new_run()
        run.action_dry_run()
        self.run_cron()
        run.action_normalize()
        self.assertEqual(run.state, "running")
        self.assertEqual(run.launched_by_id, self.admin)
        # one batch of two: lead 1 and lead 2, the cursor after lead 2
        with self.at("2026-11-10 11:00:00"):
            self.assertEqual(run.sudo()._run_batch(2), 2)
        self.assertEqual((run.cursor_model, run.cursor_id), ("crm.lead", self.lead_2.id))
        self.assertEqual(self.lead_1.phone, "+7 (900) 123-45-67")
        self.assertEqual(self.lead_3.phone, "12ab", "not reached yet")
        # the cron takes over from the cursor, to the end
        self.run_cron()
        self.assertEqual(run.state, "done")
        self.assertEqual(
            (run.checked, run.changed, run.phone, run.name_split, run.invalid), (6, 4, 3, 2, 1)
        )
        after = self.snapshot()
        self.assertEqual(self.lead_3.phone, "12ab", "invalid: left as it is")
        self.assertEqual(self.lead_4.legal_form, "ООО")
        self.assertEqual(self.lead_4.partner_name, "ООО «Ромашка»", "the name as typed")
        self.assertEqual(self.firm.legal_form, "ООО")
        self.assertEqual(self.firm.phone, "+7 (900) 111-22-33")
        self.assertEqual(self.person.phone, "+7 (900) 555-66-77")
        # untouched records: no write, no message
        for record in (self.lead_2, self.lead_3, self.lead_5):
            self.assertEqual(after[record._name, record.id], before[record._name, record.id])
        # changed records: one note each, by the administrator who started it
        note = self.messages(self.lead_1)
        self.assertEqual(len(note), 1)
        self.assertIn("89001234567", note.body)
        self.assertIn("+7 (900) 123-45-67", note.body)
        self.assertEqual(note.author_id, self.admin.partner_id)
        self.assertEqual(len(self.messages(self.firm)), 1)
        self.assertIn("89001234567 → +7 (900) 123-45-67", run.log_changes)
        self.assertIn("“12ab”", run.log_invalid)
        # a second normalization finds nothing to change, and changes nothing
        again = self.new_run()
        again.action_dry_run()
        self.run_cron()
        self.assertEqual((again.dry_changed, again.dry_invalid), (0, 1))
        again.action_normalize()
        self.run_cron()
        self.assertEqual((again.state, again.changed), ("done", 0))
        self.assertEqual(self.snapshot(), after)

    def test_cron_twice_and_names_without_legal_form(self):
        self.ru_company.crm_company_name_display = "without_form"
        run = self.new_run(do_phones=False)
        run.action_dry_run()
        self.run_cron()
        self.assertEqual((run.dry_changed, run.dry_invalid), (2, 0))
        run.action_normalize()
        self.run_cron()
        self.run_cron()  # a second run of the job: nothing more
        self.assertEqual((run.state, run.changed), ("done", 2))
        self.assertEqual(self.lead_4.partner_name, "Ромашка")
        self.assertEqual(self.lead_1.phone, "89001234567", "phones not asked for")
        self.assertEqual(len(self.messages(self.lead_4)), 1)

    def test_only_crm_administrators(self):
        with mute_logger("odoo.addons.base.models.ir_model"), self.assertRaises(AccessError):
            self.new_run(user=self.head)
        run = self.new_run()
        with mute_logger("odoo.addons.base.models.ir_model"), self.assertRaises(AccessError):
            run.with_user(self.head).action_dry_run()
        with mute_logger("odoo.addons.base.models.ir_model"), self.assertRaises(AccessError):
            run.with_user(self.user_salesman).action_normalize()
        run.action_dry_run()
        self.run_cron()
        run.action_normalize()
        with self.assertRaises(UserError):
            run.scope = "leads"

    def test_the_lead_customers_phone_stays_the_customers(self):
        """crm copies a lead's new phone onto its customer: not the normalization's."""
        customer = self.env["res.partner"].create(
            {"name": "Customer", "phone": "+7 (900) 222-22-22", "company_id": self.ru_company.id}
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead SET partner_id = %s WHERE id = %s", [customer.id, self.lead_1.id]
        )
        self.env.invalidate_all()
        run = self.new_run(scope="leads")
        run.action_dry_run()
        self.run_cron()
        run.action_normalize()
        self.run_cron()
        self.assertEqual(self.lead_1.phone, "+7 (900) 123-45-67")
        self.assertEqual(customer.phone, "+7 (900) 222-22-22")

    def test_state_and_counts_are_the_buttons(self):
        run = self.new_run()
        for vals in ({"state": "counted"}, {"dry_changed": 0}, {"cursor_id": 10**6}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                run.write(vals)
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                self.new_run(**vals)
        run.name = "Renamed"
        self.assertEqual(run.state, "draft")
