import psycopg2

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.crm_regulation.models.crm_duplicate_sweep import BATCH_ROWS, DONE

from .role_matrix_common import RoleMatrixCommon

PROGRESS = "crm_regulation.crm_duplicate_sweep_progress"


@tagged("post_install", "-at_install")
class TestDuplicateSweep(RoleMatrixCommon):
    """The weekly duplicate sweep and its review queue: groups of open leads and of contacts
    by phone, e-mail and company name, per company; merged through Odoo's wizards as the
    reviewer, dismissed, found again only when they change; batches resumable, a second
    worker skipping the batch the first one holds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.russia = cls.env.ref("base.ru")
        cls.company = cls.env.ref("base.main_company")
        cls.company.write({"country_id": cls.russia.id, "crm_phone_standard": "flag"})
        cls.head = cls.users["head_of_sales"]
        cls.salesperson = cls.users["salesperson"]
        cls.admin = cls.users["crm_admin"]
        # Odoo gives new users the contact creation right (its merge wizard's access)
        creation = cls.env.ref("base.group_partner_manager")
        for user in (cls.head, cls.salesperson, cls.other_head):
            user.group_ids = [(4, creation.id)]
        cls.progress = cls.env.ref(PROGRESS)

    # ------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------

    def sweep(self, batch_rows=BATCH_ROWS):
        """A whole pass, batch after batch, as the cron does (without its commits)."""
        begin, batches = True, 0
        while True:
            outcome = self.progress._sweep_batch(begin=begin, batch_rows=batch_rows)
            self.assertIsNotNone(outcome, "nobody else holds the sweep")
            begin, batches = False, batches + 1
            if outcome[1]:
                break
        self.env.invalidate_all()
        return batches

    def groups(self, records, key_type=None):
        """The groups that hold any of ``records`` (leads or contacts)."""
        fname = "lead_ids" if records._name == "crm.lead" else "partner_ids"
        domain = [(fname, "in", records.ids)]
        if key_type:
            domain.append(("key_type", "=", key_type))
        return self.env["crm.duplicate.group"].search(domain)

    def leads(self, phones=(), user=None, team=None, **values):
        user = user or self.salesperson
        return self.env["crm.lead"].concat(
            *(
                self._lead(user, team or self.team, phone=phone, **values)
                for phone in phones or [False]
            )
        )

    # ------------------------------------------------------------
    # what is found
    # ------------------------------------------------------------

    def test_phone_group_of_open_leads(self):
        leads = self.leads(["8 900 123-45-67", "+7 (900) 1234567", "89001234567"])
        self.assertEqual(set(leads.mapped("phone_sanitized")), {"+79001234567"})
        won = self._lead(self.salesperson, self.team, won=True, phone="+79001234567")
        archived = self._lead(self.salesperson, self.team, phone="+79001234567")
        archived.action_archive()
        other = self.leads(["+7 900 765-43-21"])
        self.sweep()
        group = self.groups(leads, "phone")
        self.assertEqual(len(group), 1)
        self.assertRecordValues(
            group,
            [
                {
                    "res_model": "lead",
                    "key_value": "+79001234567",
                    "member_count": 3,
                    "state": "to_review",
                    "team_id": self.team.id,
                    "company_id": self.company.id,
                }
            ],
        )
        self.assertEqual(group.lead_ids, leads)
        self.assertFalse(self.groups(won | archived | other))

    def test_team_of_the_oldest_lead(self):
        first = self.leads(["+7 900 111-22-33"], user=self.sub_salesperson, team=self.sub_team)
        later = self.leads(["+7 900 111-22-33"], user=self.colleague)
        self.sweep()
        group = self.groups(first | later, "phone")
        self.assertEqual(group.team_id, self.sub_team)

    def test_email_and_company_name_groups(self):
        leads = self.leads(
            partner_name="ООО «Ромашка»", email_from="Ivan Petrov <Ivan.Petrov@Example.com>"
        ) | self.leads(partner_name="Ромашка, ООО", email_from="ivan.petrov@example.com")
        self.assertEqual(set(leads.mapped("company_key")), {"ромашка"})
        self.sweep()
        self.assertEqual(self.groups(leads, "email").key_value, "ivan.petrov@example.com")
        self.assertEqual(self.groups(leads, "company_name").key_value, "ромашка")
        self.assertEqual(self.groups(leads, "email").lead_ids, leads)
        self.assertFalse(self.groups(leads, "phone"))

    def test_contact_groups(self):
        Partner = self.env["res.partner"]
        companies = Partner.create(
            [
                {"name": "ООО «Ромашка»", "is_company": True},
                {"name": "Ромашка, ООО", "is_company": True, "phone": "8 900 555-00-11"},
                {"name": "«Ромашка» ООО", "is_company": True, "active": False},
            ]
        )
        people = Partner.create(
            [
                {"name": "Olga", "email": "olga@romashka.ru", "phone": "+7 (900) 5550011"},
                {"name": "Olga K.", "email": "OLGA@romashka.ru", "user_id": self.colleague.id},
            ]
        )
        self.sweep()
        by_name = self.groups(companies, "company_name")
        self.assertEqual(by_name.res_model, "contact")
        self.assertEqual(by_name.partner_ids, companies[:2])  # not the archived one
        self.assertEqual(self.groups(people, "email").partner_ids, people)
        self.assertEqual(self.groups(people, "phone").partner_ids, companies[1] | people[0])
        # contacts: the team of their salesperson
        self.assertEqual(self.groups(people, "email").team_id, self.team)

    def test_per_company(self):
        other = self.env["res.company"].create(
            {"name": "Other Company", "country_id": self.russia.id}
        )
        Lead = self.env["crm.lead"]
        here = self.leads(["+7 900 222-33-44"])
        there = Lead.create(
            [
                {"name": f"Elsewhere {i}", "company_id": other.id, "phone": "+7 900 222-33-44"}
                for i in range(2)
            ]
        )
        self.sweep()
        self.assertFalse(self.groups(here))
        group = self.groups(there, "phone")
        self.assertEqual(group.company_id, other)
        self.assertEqual(group.lead_ids, there)

    def test_legacy_rows_get_their_keys(self):
        leads = self.leads(partner_name="ООО «Лютик»") | self.leads(partner_name="Лютик ООО")
        company = self.env["res.partner"].create({"name": "АО Василёк", "is_company": True})
        # rows from before the data standard: no key
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead SET company_key = NULL WHERE id = ANY(%s)", [leads.ids]
        )
        self.env.cr.execute("UPDATE res_partner SET company_key = NULL WHERE id = %s", [company.id])
        self.env.cr.execute(
            "UPDATE crm_lead SET write_date = '2020-01-01', write_uid = 1 WHERE id = ANY(%s)",
            [leads.ids],
        )
        self.env.invalidate_all()
        self.sweep()
        self.assertEqual(set(leads.mapped("company_key")), {"лютик"})
        # the key is not a write of the lead: its date and author stay
        self.assertEqual({str(d) for d in leads.mapped("write_date")}, {"2020-01-01 00:00:00"})
        self.assertEqual(company.company_key, "василек")
        self.assertEqual(self.groups(leads, "company_name").lead_ids, leads)

    # ------------------------------------------------------------
    # review: merge, dismiss
    # ------------------------------------------------------------

    def test_merge_through_the_wizard_as_head_of_sales(self):
        leads = self.leads(["+7 900 333-44-55", "8 900 333 44 55"])
        self.sweep()
        group = self.groups(leads).with_user(self.head)
        action = group.action_merge()
        self.assertEqual(action["res_model"], "crm.merge.opportunity")
        wizard = self.env["crm.merge.opportunity"].with_user(self.head)
        wizard = wizard.with_context(**action["context"]).create({})
        self.assertEqual(wizard.opportunity_ids, leads)
        wizard.action_merge()
        self.assertEqual(group.state, "merged")
        self.assertEqual(group.merged_by_id, self.head)
        # the head of sales deletes no lead: the other one is archived into the kept one
        self.assertEqual(len(leads.exists().filtered("active")), 1)
        # the next sweep does not find them again; the merge stays on record
        self.sweep()
        self.assertEqual(group.state, "merged")

    def test_merge_contacts_through_the_wizard(self):
        Partner = self.env["res.partner"]
        people = Partner.create(
            [
                {"name": "Anna", "email": "anna@x.ru", "user_id": self.colleague.id},
                {"name": "Anna S.", "email": "anna@x.ru", "user_id": self.salesperson.id},
            ]
        )
        self.sweep()
        group = self.groups(people, "email").with_user(self.head)
        action = group.action_merge()
        self.assertEqual(action["res_model"], "base.partner.merge.automatic.wizard")
        wizard = self.env[action["res_model"]].with_user(self.head)
        wizard = wizard.with_context(**action["context"]).create({})
        self.assertEqual(wizard.partner_ids, people)
        wizard.action_merge()
        self.assertEqual(len(people.exists()), 1)
        self.assertEqual(group.state, "merged")

    @mute_logger("odoo.addons.base.models.ir_rule", "odoo.addons.base.models.ir_model")
    def test_queue_closed_to_salespeople(self):
        leads = self.leads(["+7 900 444-55-66", "+7 900 444 55 66"])
        self.sweep()
        group = self.groups(leads)
        Group = self.env["crm.duplicate.group"].with_user(self.salesperson)
        with self.assertRaises(AccessError):
            Group.search([])
        with self.assertRaises(AccessError):
            group.with_user(self.salesperson).read(["key_value"])
        with self.assertRaises(AccessError):
            group.with_user(self.salesperson).action_merge()
        with self.assertRaises(AccessError):
            group.with_user(self.salesperson).action_dismiss()
        # nor through the wizard, named by hand: nothing is merged
        wizard = (
            self.env["crm.merge.opportunity"]
            .with_user(self.salesperson)
            .create({"opportunity_ids": [(6, 0, leads.ids)], "crm_duplicate_group_id": group.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_merge()
        self.assertEqual(len(leads.exists().filtered("active")), 2)
        self.assertEqual(group.state, "to_review")

    @mute_logger("odoo.addons.base.models.ir_rule")
    def test_heads_of_sales_see_their_teams(self):
        mine = self.leads(["+7 900 555-66-77"] * 2, user=self.sub_salesperson, team=self.sub_team)
        theirs = self.leads(
            ["+7 900 555-88-99"] * 2, user=self.other_salesperson, team=self.other_team
        )
        self.sweep()
        Group = self.env["crm.duplicate.group"]
        seen = Group.with_user(self.head).search([("id", "in", self.groups(mine | theirs).ids)])
        self.assertEqual(seen, self.groups(mine))
        with self.assertRaises(AccessError):
            self.groups(theirs).with_user(self.head).action_dismiss()
        # the review's state and who did it: the buttons', never written by hand
        with self.assertRaises(AccessError):
            self.groups(mine).with_user(self.head).write(
                {"state": "merged", "merged_by_id": self.admin.id, "merged_date": "2020-01-01"}
            )
        everything = Group.with_user(self.admin).search(
            [("id", "in", self.groups(mine | theirs).ids)]
        )
        self.assertEqual(everything, self.groups(mine | theirs))
        # members, keys and signatures are the sweep's
        with self.assertRaises(AccessError):
            self.groups(mine).with_user(self.head).write({"lead_ids": [(5,)]})

    def test_dismissed_groups_stay_dismissed_until_they_change(self):
        leads = self.leads(["+7 900 666-77-88", "+7 900 666 77 88"])
        self.sweep()
        group = self.groups(leads)
        group.with_user(self.head).action_dismiss()
        self.assertRecordValues(group, [{"state": "dismissed", "dismissed_by_id": self.head.id}])
        self.sweep()
        self.assertEqual(group.state, "dismissed")
        # a new member: to review again
        newcomer = self.leads(["89006667788"])
        self.sweep()
        self.assertRecordValues(group, [{"state": "to_review", "dismissed_by_id": False}])
        self.assertEqual(group.lead_ids, leads | newcomer)
        # restored by hand
        group.with_user(self.head).action_dismiss()
        group.with_user(self.head).action_restore()
        self.assertEqual(group.state, "to_review")

    def test_groups_that_are_no_longer_duplicates_leave_the_queue(self):
        leads = self.leads(["+7 900 777-88-99", "+7 900 777 88 99"])
        dismissed = self.leads(["+7 900 777-00-00", "+7 900 777 00 00"])
        self.sweep()
        group, kept = self.groups(leads), self.groups(dismissed)
        kept.action_dismiss()
        leads[0].phone = "+7 900 000-00-99"
        dismissed[0].action_archive()
        self.sweep()
        self.assertFalse(group.exists())
        self.assertEqual(kept.state, "dismissed")  # the decision stays on record

    # ------------------------------------------------------------
    # reruns, batches, workers
    # ------------------------------------------------------------

    def test_reruns_are_idempotent(self):
        leads = self.leads(["+7 900 888-99-00"] * 3, email_from="same@example.com")
        self.sweep()
        Group = self.env["crm.duplicate.group"]
        before = Group.search([])
        members = {g.id: (g.lead_ids.ids, g.partner_ids.ids, g.signature) for g in before}
        self.sweep()
        self.sweep()
        after = Group.search([])
        self.assertEqual(after, before)
        self.assertEqual(
            {g.id: (g.lead_ids.ids, g.partner_ids.ids, g.signature) for g in after}, members
        )
        self.assertEqual(len(self.groups(leads)), 2)

    def test_batches_resume_where_the_last_one_ended(self):
        leads = self.env["crm.lead"]
        for number in range(6):
            leads |= self.leads([f"+7 900 999-00-0{number}"] * 2)
        # one key range of 4 rows a batch: more batches than steps, the same groups
        batches = self.sweep(batch_rows=4)
        self.assertGreater(batches, DONE + 2)
        small = self.groups(leads)
        self.sweep()
        self.assertEqual(self.groups(leads), small)
        self.assertEqual(len(small), 6)
        self.assertEqual(self.progress.step, DONE)

    def test_a_second_worker_skips_the_batch_the_first_one_holds(self):
        leads = self.leads(["+7 900 101-01-01"] * 2)
        # another worker holds the progress row (a batch under way)
        with self.registry.cursor() as other_cr:
            other_cr.execute(
                "SELECT id FROM crm_duplicate_sweep WHERE id = %s FOR UPDATE NOWAIT",
                [self.progress.id],
            )
            self.assertIsNone(self.progress._sweep_batch(begin=True))
            other_cr.rollback()
        self.assertFalse(self.groups(leads))
        # released: this worker goes on from the committed progress
        self.sweep()
        self.assertEqual(len(self.groups(leads)), 1)
        # while this transaction holds it, the other worker is the one that skips
        self.progress._sweep_batch(begin=True)
        with self.registry.cursor() as other_cr:
            with self.assertRaises(psycopg2.errors.LockNotAvailable):
                other_cr.execute(
                    "SELECT id FROM crm_duplicate_sweep WHERE id = %s FOR UPDATE NOWAIT",
                    [self.progress.id],
                )
            other_cr.rollback()

    def test_the_cron_runs_a_whole_pass(self):
        leads = self.leads(["+7 900 202-02-02"] * 2)
        cron = self.env.ref("crm_regulation.ir_cron_duplicate_sweep")
        self.assertEqual(cron.interval_type, "weeks")
        self.assertTrue(cron.active)
        with self.enter_registry_test_mode():
            cron.sudo().method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(self.progress.step, DONE)
        self.assertTrue(self.progress.date_done)
        self.assertEqual(len(self.groups(leads)), 1)

    def test_queries_do_not_grow_with_the_groups(self):
        self.sweep()  # the keys of the database's rows from before the data standard

        def counted():
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            self.sweep()
            return self.env.cr.sql_log_count - before

        self.leads([f"+7 900 303-03-0{n}" for n in range(2)] * 2)
        few = counted()
        self.leads([f"+7 900 404-04-{n:02d}" for n in range(30)] * 2, email_from="x@y.ru")
        self.assertEqual(counted(), few)
