from datetime import timedelta
from xmlrpc.client import Fault

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.crm_regulation.models.role_matrix import CONTACT_MATRIX
from odoo.addons.mail.tools.discuss import Store

from .role_matrix_common import ROLES, SCOPES, RoleMatrixCommon
from .test_role_matrix import check_matrix

# The contacts of each role, as the issue states them: the customers of the leads the role
# reads (a head of sales: of their teams and sub-teams), edited where the role edits the
# leads; created as Odoo allows; deleted and exported from head of sales up. "won" = the
# customers of won leads only (Support; the Accountant: won leads and those with a signed
# contract). The Marketer reads the customers of the leads in revival only.
CONTACT_EXPECTED = CONTACT_MATRIX
CONTACT_OPERATIONS = ("read", "create", "write", "unlink", "export")
CONTACT_MARKERS = ("<!-- contact-matrix:start -->", "<!-- contact-matrix:end -->")


class ContactsCommon(RoleMatrixCommon):
    """Each lead of the matrix has its own customer: a person of a customer company. The
    users have Odoo's contact creation right, as Odoo gives new users by default (who
    deletes contacts in Odoo)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        creation = cls.env.ref("base.group_partner_manager")
        for user in (*cls.users.values(), cls.colleague, cls.other_head):
            user.group_ids = [(4, creation.id)]

    @classmethod
    def _customer(cls, name):
        company = cls.env["res.partner"].create({"name": f"{name} Ltd", "is_company": True})
        return cls.env["res.partner"].create(
            {"name": name, "parent_id": company.id, "email": f"{name.replace(' ', '.')}@x.com"}
        )

    @classmethod
    def _customer_lead(cls, user, team, won=False, **values):
        customer = cls._customer(f"{user.name} {team.name}{' won' if won else ''}")
        return cls._lead(user, team, won=won, partner_id=customer.id, **values).partner_id


class TestContactMatrix(ContactsCommon):
    """Every role x operation x scope cell on contacts, as that user, through the ORM."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = {}
        for role in ROLES:
            for scope in SCOPES:
                user, team = (
                    (cls.users[role], cls.team) if scope == "own" else cls.scope_owner[scope]
                )
                cls.customers[role, scope] = (
                    cls._customer_lead(user, team),
                    cls._customer_lead(user, team, won=True),
                )

    def _cell(self, role, operation, scope):
        user = self.users[role]
        open_customer, won_customer = self.customers[role, scope]
        if operation == "read":
            results = []
            for customer in (open_customer, won_customer):
                as_user = customer.with_user(user)
                read = self.attempt(lambda as_user=as_user: as_user.read(["name", "email"]))
                found = bool(as_user.search_count([("id", "=", customer.id)]))
                self.assertEqual(read, found, f"{role}: read and search disagree")
                # the company of the customer comes with them
                company = customer.parent_id.with_user(user)
                self.assertEqual(read, bool(company.search_count([("id", "=", company.id)])))
                results.append(read)
            return {(True, True): "yes", (False, True): "won"}.get(tuple(results), "no")
        partner = open_customer.with_user(user)
        if operation == "create":
            owner, _team = self._owner(role, scope)

            def create():
                # created as Odoo allows, and read back by its creator (the form reloads)
                new = partner.create({"name": "New contact", "user_id": owner.id})
                new.invalidate_recordset()
                new.read(["name", "email"])

            return "yes" if self.attempt(create) else "no"
        if operation == "write":
            return "yes" if self.attempt(lambda: partner.write({"phone": "+1 555"})) else "no"
        if operation == "unlink":
            return "yes" if self.attempt(partner.unlink) else "no"
        if operation == "export":
            return "yes" if self.attempt(lambda: partner.export_data(["name"])) else "no"
        raise ValueError(operation)

    def test_contact_matrix(self):
        observed = {
            role: {
                operation: " ".join(self._cell(role, operation, scope) for scope in SCOPES)
                for operation in CONTACT_OPERATIONS
            }
            for role in ROLES
        }
        check_matrix(self, observed, CONTACT_EXPECTED, SCOPES, CONTACT_MARKERS)


class TestContactsAccess(ContactsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = cls.users["salesperson"]
        cls.own_lead = cls._lead(cls.salesperson, cls.team, partner_id=cls._customer("Mine").id)
        cls.mine = cls.own_lead.partner_id
        cls.theirs_lead = cls._lead(cls.colleague, cls.team, partner_id=cls._customer("Theirs").id)
        cls.theirs = cls.theirs_lead.partner_id

    def test_a_colleagues_customer_on_every_read_path(self):
        Partner = self.env["res.partner"].with_user(self.salesperson)
        theirs = self.theirs.with_user(self.salesperson)
        with self.assertRaisesRegex(AccessError, "CRM > Sales > Access Requests"):
            theirs.read(["email"])
        with self.assertRaises(AccessError):
            theirs.mapped("email")
        with self.assertRaisesRegex(AccessError, "CRM > Sales > Access Requests"):
            self.theirs_lead.with_user(self.salesperson).read(["name"])
        self.assertNotIn(self.theirs, Partner.search([("email", "ilike", "@x.com")]))
        self.assertFalse(Partner.name_search("Theirs"))
        # the customer and their company
        self.assertEqual(
            {r[0] for r in Partner.name_search("Mine")}, {*self.mine.ids, *self.mine.parent_id.ids}
        )
        groups = Partner._read_group([("email", "ilike", "@x.com")], ["email"], ["__count"])
        self.assertNotIn(self.theirs.email, [email for email, _count in groups])
        found = Partner.web_search_read([("name", "ilike", "Theirs")], {"email": {}})
        self.assertEqual(found["length"], 0)
        with self.assertRaises(AccessError):
            Partner.browse(self.theirs.id).export_data(["email"])
        # through the messages: those of a colleague's lead are not readable, and the
        # customer's address is not read through a message's author
        self.theirs_lead.message_post(body="Hello", author_id=self.theirs.id)
        Message = self.env["mail.message"].with_user(self.salesperson)
        self.assertFalse(Message.search([("author_id", "=", self.theirs.id)]))
        self.assertFalse(Message.search([("author_id.email", "=", self.theirs.email)]))
        # nor through the e-mail composer's recipients
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.salesperson)
            .with_context(default_model="crm.lead", default_res_ids=self.own_lead.ids)
            .create({"body": "Hi", "partner_ids": [(6, 0, self.theirs.ids)]})
        )
        try:
            shown = str(composer.web_read({"partner_ids": {"fields": {"email": {}}}}))
        except AccessError:
            shown = ""
        self.assertNotIn(self.theirs.email, shown)
        # nor changed, deleted or exported
        for attempt in (
            lambda: theirs.write({"email": "me@evil.com"}),
            theirs.unlink,
        ):
            with self.assertRaises(AccessError):
                attempt()
        self.assertEqual(self.theirs.email, "Theirs@x.com")

    def test_own_customers_the_odoo_way(self):
        """Chatter, followers, suggested recipients and the composer on one's own lead."""
        lead = self.own_lead.with_user(self.salesperson)
        lead.message_subscribe(partner_ids=self.mine.ids)
        lead.message_post(body="Offer sent", partner_ids=self.mine.ids)
        self.own_lead.message_post(body="Thanks", author_id=self.mine.id, message_type="email")
        store = Store()
        lead._thread_to_store(
            store, [], request_list=["followers", "suggestedRecipients", "contact_fields"]
        )
        data = store.get_result()
        self.assertIn(self.mine.id, [p["id"] for p in data["res.partner"]])
        messages = (
            self.env["mail.message"]
            .with_user(self.salesperson)
            ._message_fetch(domain=None, thread=lead)["messages"]
        )
        result = Store().add(messages).get_result()
        self.assertIn("Mine", [p.get("name") for p in result["res.partner"]])
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.salesperson)
            .with_context(default_model="crm.lead", default_res_ids=lead.ids)
            .create({"body": "Proposal", "partner_ids": [(6, 0, self.mine.ids)]})
        )
        composer._action_send_mail()
        self.assertIn(self.mine, self.own_lead.message_ids[0].partner_ids)
        # a message on a colleague's customer's behalf on one's own lead: its author is
        # shown (a name, as Odoo's chatter shows it), nothing more
        self.own_lead.message_post(body="Also me", author_id=self.theirs.id)
        messages = (
            self.env["mail.message"]
            .with_user(self.salesperson)
            ._message_fetch(domain=None, thread=lead)["messages"]
        )
        self.assertIn(
            "Theirs", [p.get("name") for p in Store().add(messages).get_result()["res.partner"]]
        )

    def test_what_odoo_needs_is_readable(self):
        Partner = self.env["res.partner"].with_user(self.salesperson)
        for partner in (
            self.colleague.partner_id,
            self.users["head_of_sales"].partner_id,
            self.env.company.partner_id,
            self.salesperson.partner_id,
        ):
            self.assertTrue(Partner.browse(partner.id).read(["name", "email"]))

    def test_shared_lists_are_readable_to_every_role(self):
        models = (
            "res.country",
            "res.country.state",
            "res.partner.category",
            "res.partner.industry",
            "utm.source",
            "utm.medium",
            "utm.campaign",
            "crm.stage",
            "crm.tag",
            "crm.lost.reason",
        )
        self.env["res.partner.category"].create({"name": "VIP"})
        self.env["res.partner.industry"].create({"name": "Construction"})
        self.env["crm.tag"].create({"name": "Hot"})
        for role in ROLES:
            for model in models:
                with self.subTest(role=role, model=model):
                    records = self.env[model].with_user(self.users[role]).search([], limit=5)
                    self.assertTrue(records, f"{role} reads no {model}")
                    records.read(["display_name"])

    def test_the_salesperson_of_a_contact_and_the_head_of_their_team(self):
        managed = self.env["res.partner"].create(
            {"name": "Managed", "user_id": self.salesperson.id}
        )
        self.assertTrue(managed.with_user(self.salesperson).read(["email"]))
        self.assertTrue(managed.with_user(self.users["head_of_sales"]).read(["email"]))
        with self.assertRaises(AccessError):
            managed.with_user(self.colleague).read(["email"])
        with self.assertRaises(AccessError):
            managed.with_user(self.other_head).read(["email"])

    def test_a_signed_contract_shows_the_customer_to_the_accountant(self):
        accountant = self.users["accountant"]
        with self.assertRaises(AccessError):
            self.mine.with_user(accountant).read(["name"])
        self.own_lead.contract_signed = True
        self.assertTrue(self.mine.with_user(accountant).read(["name"]))

    def test_the_marketer_reads_the_customers_of_leads_in_revival(self):
        marketer = self.users["marketer"]
        with self.assertRaises(AccessError):
            self.mine.with_user(marketer).read(["email"])
        program = self.env["crm.revival.program"].create(
            {"name": "Nurture", "reentry_stage_id": self.env["crm.stage"].search([], limit=1).id}
        )
        self.env["crm.revival.enrollment"].create(
            {"lead_id": self.own_lead.id, "program_id": program.id, "state": "running"}
        )
        self.assertTrue(self.mine.with_user(marketer).read(["email"]))

    def test_temporary_access_lends_the_customer(self):
        with self.assertRaises(AccessError):
            self.theirs.with_user(self.salesperson).read(["email"])
        request = (
            self.env["crm.access.request"]
            .with_user(self.salesperson)
            .create(
                {
                    "request_type": "leads",
                    "lead_ids": [(6, 0, self.theirs_lead.ids)],
                    "access_mode": "read",
                    "reason": "Covering for Pavel",
                    "date_end": fields.Datetime.now() + timedelta(days=1),
                }
            )
        )
        request.with_user(self.users["head_of_sales"]).action_approve(request.revision)
        self.assertTrue(self.theirs.with_user(self.salesperson).read(["email"]))
        with self.assertRaises(AccessError):
            self.theirs.with_user(self.salesperson).write({"email": "x@y.com"})

    def test_outside_the_role_matrix_odoo_rights_are_kept(self):
        self.env.company.crm_role_matrix_for_sales_groups = False
        odoo_salesman = self._user("rm_odoo", "Odoo Salesman", "salesperson")
        odoo_salesman.group_ids = [(6, 0, self.env.ref("sales_team.group_sale_salesman").ids)]
        self.env.registry.clear_cache()
        self.assertTrue(self.theirs.with_user(odoo_salesman).read(["email"]))


class TestContactsAttacks(ContactsCommon):
    """What the attack review of contacts found, refused (nothing changed)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = cls.users["salesperson"]
        cls.theirs_lead = cls._lead(cls.other_salesperson, cls.other_team)
        cls.theirs = cls._customer("Other Client")
        cls.theirs_lead.partner_id = cls.theirs
        cls.own_lead = cls._lead(cls.salesperson, cls.team, partner_id=cls._customer("Own").id)
        creation = cls.env.ref("base.group_partner_manager")
        export = cls.env.ref("base.group_allow_export")
        cls.salesperson.group_ids = [(4, creation.id), (4, export.id)]

    def test_a_contact_is_not_lent_by_linking_it(self):
        Lead = self.env["crm.lead"].with_user(self.salesperson)
        for values in (
            {"partner_id": self.theirs.id},
            {"commercial_partner_id": self.theirs.parent_id.id},
        ):
            with self.subTest(values), self.assertRaises(AccessError):
                Lead.create({"name": "Probe", **values})
            with self.subTest(values), self.assertRaises(AccessError):
                self.own_lead.with_user(self.salesperson).write(values)
        with self.assertRaises(AccessError):
            self.env["res.partner"].with_user(self.salesperson).create(
                {"name": "Probe", "parent_id": self.theirs.parent_id.id}
            )
        self.assertEqual(self.own_lead.partner_id.name, "Own")
        with self.assertRaises(AccessError):
            self.theirs.with_user(self.salesperson).read(["email"])

    def test_followers_show_only_the_contacts_one_reads(self):
        self.theirs_lead.message_subscribe(partner_ids=self.theirs.ids)
        Followers = self.env["mail.followers"].with_user(self.salesperson)
        self.assertFalse(Followers.search_read([("partner_id", "=", self.theirs.id)], ["email"]))
        with self.assertRaises(AccessError):
            self.own_lead.with_user(self.salesperson).message_subscribe(partner_ids=self.theirs.ids)
        self.own_lead.with_user(self.salesperson).message_subscribe(
            partner_ids=self.own_lead.partner_id.ids
        )
        self.assertEqual(
            Followers.search_read([("partner_id", "=", self.own_lead.partner_id.id)], ["email"])[0][
                "email"
            ],
            "Own@x.com",
        )
        with self.assertRaises(AccessError):
            Followers.search([("res_model", "=", "crm.lead")]).export_data(["email"])

    def test_the_marketer_reads_no_customer_e_mail_in_the_chatter(self):
        self.own_lead.message_post(
            body="Call me", author_id=self.own_lead.partner_id.id, message_type="email"
        )
        self.own_lead.message_post(body="Team note", message_type="comment")
        Message = self.env["mail.message"].with_user(self.users["marketer"])
        found = Message.search_read(
            [("model", "=", "crm.lead"), ("res_id", "=", self.own_lead.id)], ["email_from", "body"]
        )
        self.assertIn("Team note", str(found))
        self.assertNotIn("Own@x.com", str(found))
        self.assertNotIn("Call me", str(found))
        # a senior salesperson who is also a marketer keeps the messages of the leads their
        # sales role reads (the roles add up)
        both = self.users["senior_salesperson"]
        both.group_ids = [(4, self.env.ref("crm_regulation.group_marketer").id)]
        self.assertIn(
            "Call me",
            str(
                self.env["mail.message"]
                .with_user(both)
                .search_read(
                    [("res_id", "=", self.own_lead.id), ("model", "=", "crm.lead")], ["body"]
                )
            ),
        )

    def test_no_phone_oracle_for_the_marketer(self):
        self.own_lead.phone = "+1 555 0002"
        Lead = self.env["crm.lead"].with_user(self.users["marketer"])
        with self.assertRaises(AccessError):
            Lead.search_count([("phone_mobile_search", "=like", "+1555%")])
        self.assertEqual(
            self.env["crm.lead"]
            .with_user(self.salesperson)
            .search_count([("phone_mobile_search", "=like", "+1555%")]),
            1,
        )

    def test_no_deletion_through_the_merge_of_contacts(self):
        mine = self.own_lead.partner_id
        copy = (
            self.env["res.partner"]
            .with_user(self.salesperson)
            .create({"name": "Own copy", "email": mine.email})
        )
        wizard = (
            self.env["base.partner.merge.automatic.wizard"]
            .with_user(self.salesperson)
            .create({"partner_ids": [(6, 0, [mine.id, copy.id])], "dst_partner_id": copy.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_merge()
        self.assertTrue(mine.exists())
        self.assertEqual(self.own_lead.partner_id, mine)

    def test_no_export_of_contacts_through_other_lists(self):
        History = self.env["crm.lead.stage.history"].with_user(self.salesperson)
        stays = History.search([])
        self.assertTrue(stays)
        with self.assertRaises(AccessError):
            stays.export_data(["lead_id/partner_id/email"])
        # the names of things stay exportable where export is allowed
        self.assertTrue(stays.export_data(["lead_id/partner_id", "stage_id"])["datas"])

    def test_edits_only_the_customers_of_their_leads(self):
        for partner in (self.env.company.partner_id, self.colleague.partner_id):
            with self.subTest(partner.name), self.assertRaises(AccessError):
                partner.with_user(self.salesperson).write({"email": "pwned@evil.test"})
        self.own_lead.partner_id.with_user(self.salesperson).write({"phone": "+1 555"})


class TestLeastPrivilege(ContactsCommon):
    """The Marketer reads leads without their contact data; the Accountant reads won and
    signed leads, their customer and figures, not their internal notes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lost_reason = cls.env["crm.lost.reason"].create({"name": "Too expensive"})
        cls.lead = cls._lead(
            cls.users["salesperson"],
            cls.team,
            partner_id=cls._customer("Client").id,
            email_from="client@x.com",
            phone="+7 900 000 00 00",
            tag_ids=[(0, 0, {"name": "Least privilege"})],
        )

    def test_the_marketer_reads_no_contact_data(self):
        lead = self.lead.with_user(self.users["marketer"])
        values = lead.read(["name", "stage_id", "source_id", "campaign_id", "tag_ids", "outcome"])
        self.assertEqual(values[0]["name"], self.lead.name)
        for fname in ("email_from", "phone", "partner_id", "contact_name", "partner_name"):
            with self.subTest(fname), self.assertRaises(AccessError):
                lead.read([fname])
        with self.assertRaises(AccessError):
            lead.search([("phone", "=", "+7 900 000 00 00")])
        self.assertNotIn("email_from", lead.fields_get())
        arch = lead.get_views([(False, "form"), (False, "list")])["views"]
        self.assertNotIn('name="email_from"', arch["form"]["arch"])
        # the chatter works, without suggesting the customer
        store = Store()
        lead._thread_to_store(store, [], request_list=["followers", "suggestedRecipients"])
        self.assertNotIn("client@x.com", str(store.get_result()))
        # the reporting menu: source quality and revival figures
        menus = self.env["ir.ui.menu"].with_user(self.users["marketer"])._visible_menu_ids()
        for xmlid in (
            "crm.crm_menu_report",
            "crm_regulation.crm_lead_source_report_menu",
            "crm_regulation.crm_revival_report_menu",
        ):
            self.assertIn(self.env.ref(xmlid).id, menus, xmlid)

    def test_the_marketer_reads_the_contact_of_leads_in_revival(self):
        program = self.env["crm.revival.program"].create(
            {"name": "Nurture", "reentry_stage_id": self.env["crm.stage"].search([], limit=1).id}
        )
        enrollment = self.env["crm.revival.enrollment"].create(
            {"lead_id": self.lead.id, "program_id": program.id}
        )
        as_marketer = enrollment.with_user(self.users["marketer"])
        self.assertEqual(as_marketer.email_from, "client@x.com")
        self.assertEqual(as_marketer.partner_id.email, "Client@x.com")
        enrollment.state = "finished"
        as_marketer.invalidate_recordset()
        self.assertFalse(as_marketer.email_from)
        with self.assertRaises(AccessError):
            self.lead.partner_id.with_user(self.users["marketer"]).read(["email"])

    def test_the_accountant_reads_won_and_signed_leads_without_notes(self):
        accountant = self.users["accountant"]
        with self.assertRaises(AccessError):
            self.lead.with_user(accountant).read(["name"])
        self.lead.contract_signed = True
        lead = self.lead.with_user(accountant)
        values = lead.read(["expected_revenue", "partner_id", "contract_date"])[0]
        self.assertEqual(values["expected_revenue"], 1000)
        self.assertEqual(values["partner_id"][0], self.lead.partner_id.id)
        with self.assertRaises(AccessError):
            lead.read(["description"])
        with self.assertRaises(AccessError):
            lead.search([("description", "ilike", "internal")])
        lead.write({"first_payment_date": "2026-12-01"})
        with self.assertRaises(AccessError):
            lead.write({"expected_revenue": 1})
        # an open lead of the pipeline stays out of reach
        self.assertFalse(
            self.env["crm.lead"]
            .with_user(accountant)
            .search([("contract_signed", "=", False), ("outcome", "!=", "won")])
        )


@tagged("post_install", "-at_install")
class TestContactsRpc(ContactsCommon, HttpCase):
    def test_over_xml_rpc(self):
        salesperson = self.users["salesperson"]
        theirs = self._customer_lead(self.colleague, self.team)
        mine = self._customer_lead(salesperson, self.team)

        def call(method, *args, **kwargs):
            return self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                salesperson.id,
                salesperson.login,
                "res.partner",
                method,
                list(args),
                {"context": {"lang": "en_US"}, **kwargs},
            )

        found = call("search_read", [("email", "ilike", "@x.com")], fields=["email"])
        self.assertEqual({row["id"] for row in found}, {mine.id})
        for method, args in (
            ("read", (theirs.ids, ["email"])),
            ("write", (theirs.ids, {"email": "me@evil.com"})),
            ("unlink", (mine.ids,)),
            ("export_data", (mine.ids, ["email"])),
        ):
            with self.subTest(method), self.assertRaises(Fault):
                call(method, *args)
        self.assertTrue(mine.exists())
        self.assertEqual(theirs.email, theirs.name.replace(" ", ".") + "@x.com")

    def test_over_json_rpc(self):
        """The web client's own route, as each role: a colleague's customer, refused."""
        theirs = self._customer_lead(self.colleague, self.team)
        for role in ("salesperson", "marketer", "support", "accountant"):
            user = self.users[role]
            self.authenticate(user.login, user.login)
            with self.subTest(role=role), self.assertRaises(Exception) as caught:
                with mute_logger("odoo.http"):
                    self.make_jsonrpc_request(
                        "/web/dataset/call_kw/res.partner/web_read",
                        {
                            "model": "res.partner",
                            "method": "web_read",
                            "args": [theirs.ids],
                            "kwargs": {"specification": {"email": {}}},
                        },
                    )
            self.assertIn("AccessError", str(caught.exception.args))


@tagged("post_install", "-at_install")
class TestRoleTours(ContactsCommon, HttpCase):
    def test_the_marketer_opens_a_lead(self):
        lead = self._lead(
            self.users["salesperson"],
            self.team,
            name="Tour Nurtured Lead",
            partner_id=self._customer("Tour Client").id,
            email_from="tour.client@x.com",
            phone="+7 900 111 22 33",
        )
        self.start_tour(
            f"/odoo/crm.lead/{lead.id}", "crm_regulation_marketer_lead_tour", login="rm_marketer"
        )
        self.start_tour(
            "/odoo/action-crm.crm_lead_action_pipeline",
            "crm_regulation_marketer_pipeline_tour",
            login="rm_marketer",
        )
        program = self.env["crm.revival.program"].create(
            {"name": "Tour", "reentry_stage_id": self.env["crm.stage"].search([], limit=1).id}
        )
        self.env["crm.revival.enrollment"].create({"lead_id": lead.id, "program_id": program.id})
        self.start_tour(
            "/odoo/action-crm_regulation.crm_revival_enrollment_action",
            "crm_regulation_marketer_revival_tour",
            login="rm_marketer",
        )

    def test_the_rights_audit(self):
        over = self._user("rm_tour_settings", "Tour Settings Salesperson", "salesperson")
        over.group_ids = [(4, self.env.ref("base.group_system").id)]
        head = self._user("rm_tour_head", "Tour Head", "head_of_sales")
        self.env["res.users.log"].with_user(head).sudo().create({})
        self.start_tour(
            "/odoo/action-crm_regulation.crm_rights_audit_action_open",
            "crm_regulation_rights_audit_tour",
            login="rm_crm_admin",
        )
