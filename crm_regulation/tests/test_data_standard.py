"""The data standard on entry: the table of phone formats and company names, every entry
path of leads and contacts (the form, import, the ORM and RPC, the mail gateway), the three
standards, the team's override, the value checks of stages, the list of lead sources."""

from xmlrpc.client import Fault

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from ..models import data_standard
from ..models.cursor_flags import UTM_OWN_SOURCE, flag
from ..models.data_standard import format_phone, split_company_name
from .common import CrmRegulationCommon

# (as typed, the country of the record, display in the regulation format, E.164 or the error)
PHONES = [
    ("8 900 123-45-67", "RU", "+7 (900) 123-45-67", "+79001234567"),
    ("+7 (900) 1234567", "RU", "+7 (900) 123-45-67", "+79001234567"),
    ("89001234567", "RU", "+7 (900) 123-45-67", "+79001234567"),
    ("9001234567", "RU", "+7 (900) 123-45-67", "+79001234567"),
    ("  +7 900 123 45 67  ", "RU", "+7 (900) 123-45-67", "+79001234567"),
    ("8 (495) 123-45-67", "RU", "+7 (495) 123-45-67", "+74951234567"),
    ("+7 800 555-35-35", "RU", "+7 (800) 555-35-35", "+78005553535"),
    # extensions are kept after the number, not matched on
    ("+7 900 123-45-67 доб. 123", "RU", "+7 (900) 123-45-67 ext. 123", "+79001234567"),
    ("8 (495) 123-45-67 ext 12", "RU", "+7 (495) 123-45-67 ext. 12", "+74951234567"),
    ("8 495 123-45-67 #7", "RU", "+7 (495) 123-45-67 ext. 7", "+74951234567"),
    # foreign numbers: with their code, in the international format
    ("+44 20 7946 0958", "RU", "+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "RU", "+44 20 7946 0958", "+442079460958"),
    ("+1 650 253 0000", "RU", "+1 650-253-0000", "+16502530000"),
    ("020 7946 0958", "GB", "+44 20 7946 0958", "+442079460958"),
    # refused (required) or flagged (flag), kept as typed
    ("8 900 CALL-NOW", "RU", None, "letters"),
    ("+7 900 123-45-6x", "RU", None, "letters"),
    ("123", "RU", None, "short"),
    ("12-34", "RU", None, "short"),
    ("+7 900 123-45-67-89", "RU", None, "length"),
    ("+7 (000) 123-45-67", "RU", None, "no_such_number"),
    ("020 7946 0958", "RU", None, "length"),
    ("020 7946 0958", "", None, "no_country"),
]

# (as typed, the name without its legal form, the form, the matching key)
COMPANY_NAMES = [
    ("«ООО «Ромашка»»", "Ромашка", "ООО", "ромашка"),
    ("Ромашка, ООО", "Ромашка", "ООО", "ромашка"),
    ('ООО "Ромашка"', "Ромашка", "ООО", "ромашка"),
    ("ооо ромашка", "ромашка", "ООО", "ромашка"),
    (
        "Общество с ограниченной ответственностью «Ромашка»",
        "Ромашка",
        "Общество с ограниченной ответственностью",
        "ромашка",
    ),
    ("ПАО «Ёлка»", "Ёлка", "ПАО", "елка"),
    ("ИП Петров", "Петров", "ИП", "петров"),
    # only a leading or trailing form is split off
    ("Автосервис ИП Петров", "Автосервис ИП Петров", "", "автосервис ип петров"),
    ("ПАОЛА", "ПАОЛА", "", "паола"),
    ("ООО", "ООО", "", "ооо"),
    ("Acme Ltd.", "Acme", "Ltd.", "acme"),
    ("Acme, LLC", "Acme", "LLC", "acme"),
    ("ACME Inc", "ACME", "Inc", "acme"),
    ("'Acme'", "Acme", "", "acme"),
    ("Acme   Trading  GmbH", "Acme Trading", "GmbH", "acme trading"),
]


class DataStandardCommon(CrmRegulationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ru = cls.env.ref("base.ru")
        cls.company.write(
            {
                "country_id": cls.ru.id,
                "crm_phone_standard": "required",
                "crm_phone_format": "regulation",
            }
        )
        cls.team.phone_standard = "company"

    def lead(self, user=None, **values):
        return (
            self.env["crm.lead"]
            .with_user(user or self.user_salesman)
            .create(
                {"name": "Lead", "team_id": self.team.id, "stage_id": self.stage_new.id, **values}
            )
        )


class TestFormats(DataStandardCommon):
    def test_phone_table(self):
        for typed, country, display, expected in PHONES:
            with self.subTest(typed=typed, country=country):
                result = format_phone(typed, country)
                if display:
                    self.assertEqual(
                        (result.display, result.e164, result.error), (display, expected, None)
                    )
                else:
                    self.assertEqual(
                        (result.display, result.e164, result.error), (typed, None, expected)
                    )
                    self.assertIn(expected, data_standard.PHONE_ERRORS)

    def test_phone_formats(self):
        self.assertEqual(
            format_phone("8 900 123-45-67", "RU", "international").display, "+7 900 123-45-67"
        )
        self.assertEqual(format_phone("8 900 123-45-67", "RU", "e164").display, "+79001234567")
        # the regulation's format is for Russian numbers; others stay international
        self.assertEqual(
            format_phone("+44 20 7946 0958", "RU", "regulation").display, "+44 20 7946 0958"
        )

    def test_company_name_table(self):
        forms = self.env["crm.legal.form"]._forms_for(self.company.id)
        for typed, name, form, key in COMPANY_NAMES:
            with self.subTest(typed=typed):
                self.assertEqual(tuple(split_company_name(typed, forms)), (name, form, key))

    def test_legal_forms_per_company(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        Form_ = self.env["crm.legal.form"]
        self.assertNotIn("SARL", Form_._forms_for(self.company.id))
        sarl = Form_.create({"name": "SARL", "company_id": other.id})
        self.assertIn("SARL", Form_._forms_for(other.id))
        self.assertNotIn("SARL", Form_._forms_for(self.company.id))
        self.assertEqual(
            split_company_name("Dupont SARL", Form_._forms_for(other.id)).legal_form, "SARL"
        )
        # archived: no longer split off
        self.env.ref("crm_regulation.legal_form_ru_ooo").active = False
        self.assertNotIn("ООО", Form_._forms_for(self.company.id))
        sarl.unlink()
        self.assertNotIn("SARL", Form_._forms_for(other.id))
        with (
            self.assertRaises(IntegrityError),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            Form_.create({"name": "ооо"})  # the same form twice, whatever the case
            Form_.flush_model()
        # only CRM administrators keep the list
        with self.assertRaises(AccessError):
            Form_.with_user(self.user_salesman).create({"name": "SAS"})
        self.assertTrue(Form_.with_user(self.user_salesman).search([]))


class TestLeadEntry(DataStandardCommon):
    def test_orm_create_and_write(self):
        lead = self.lead(phone="8 900 123-45-67", partner_name="«ООО «Ромашка»»")
        self.assertEqual(lead.phone, "+7 (900) 123-45-67")
        self.assertEqual(lead.phone_sanitized, "+79001234567")
        self.assertEqual(
            (lead.partner_name, lead.legal_form, lead.company_key),
            ("«ООО «Ромашка»»", "ООО", "ромашка"),
        )
        self.assertFalse(lead.phone_invalid)
        lead.with_user(self.user_salesman).write(
            {"phone": "+7 (495) 1234567", "partner_name": "Ромашка, АО"}
        )
        self.assertEqual(
            (lead.phone, lead.legal_form, lead.company_key), ("+7 (495) 123-45-67", "АО", "ромашка")
        )

    def test_required_refuses_with_a_clear_message_and_nothing_written(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        count = Lead.search_count([])
        with self.refused("“Bad”: “8 900 CALL-NOW”: it contains letters."):
            Lead.create(
                [
                    {"name": "Good", "team_id": self.team.id, "phone": "8 900 123-45-67"},
                    {"name": "Bad", "team_id": self.team.id, "phone": "8 900 CALL-NOW"},
                ]
            )
        self.assertEqual(Lead.search_count([]), count, "nothing half-written")
        lead = self.lead(phone="8 900 123-45-67")
        with self.refused("it has too few digits"):
            lead.with_user(self.user_salesman).write({"phone": "123", "description": "x"})
        self.assertEqual(lead.phone, "+7 (900) 123-45-67")
        self.assertFalse(lead.description)

    def test_flag_keeps_invalid_numbers_and_flags_them(self):
        self.company.crm_phone_standard = "flag"
        lead = self.lead(phone="8 900 CALL-NOW")
        self.assertEqual(lead.phone, "8 900 CALL-NOW")
        self.assertTrue(lead.phone_invalid)
        self.assertEqual(lead.phone_state, "incorrect")
        self.assertIn(lead, self.env["crm.lead"].search([("phone_invalid", "=", True)]))
        self.assertNotIn(lead, self.env["crm.lead"].search([("phone_invalid", "=", False)]))
        good = self.lead(phone="89001234567")
        self.assertEqual(good.phone, "+7 (900) 123-45-67")
        self.assertNotIn(good, self.env["crm.lead"].search([("phone_invalid", "=", True)]))

    def test_off_keeps_what_is_typed(self):
        self.company.crm_phone_standard = "off"
        lead = self.lead(phone="8 900 123-45-67", partner_name="ООО Ромашка")
        self.assertEqual(lead.phone, "8 900 123-45-67")
        # the legal form is split off into its own field whatever the phone standard
        self.assertEqual((lead.legal_form, lead.company_key), ("ООО", "ромашка"))

    def test_team_overrides_the_company(self):
        self.company.crm_phone_standard = "off"
        self.team.phone_standard = "required"
        with self.refused("it contains letters"):
            self.lead(phone="CALL ME")
        self.assertEqual(self.lead(phone="8 900 123-45-67").phone, "+7 (900) 123-45-67")
        self.team.phone_standard = "off"
        self.company.crm_phone_standard = "required"
        self.assertEqual(self.lead(phone="CALL ME").phone, "CALL ME")

    def test_country_of_the_lead_then_its_customer_then_the_company(self):
        gb = self.env.ref("base.uk")
        self.assertEqual(
            self.lead(phone="020 7946 0958", country_id=gb.id).phone, "+44 20 7946 0958"
        )
        customer = (
            self.env["res.partner"]
            .with_user(self.user_salesman)
            .create({"name": "Brit", "country_id": gb.id})
        )
        self.assertEqual(
            self.lead(phone="020 7946 0958", partner_id=customer.id).phone, "+44 20 7946 0958"
        )
        with self.refused("wrong number of digits"):
            self.lead(phone="020 7946 0958")

    def test_a_hidden_customer_tells_nothing(self):
        """The country of a customer the user may not read is never used: no oracle (the
        customer is refused first, whatever the phone)."""
        hidden = (
            self.env["res.partner"]
            .with_user(self.user_salesman_2)
            .create({"name": "Hidden", "country_id": self.env.ref("base.uk").id})
        )
        for phone in ("020 7946 0958", "+44 20 7946 0958", "CALL ME"):
            with self.subTest(phone=phone), self.assertRaises(AccessError):
                self.lead(phone=phone, partner_id=hidden.id)
        self.assertFalse(
            self.env["res.partner"].with_user(self.user_salesman)._data_standard_country_of(hidden)
        )

    def test_write_on_leads_of_different_countries(self):
        self.company.crm_phone_standard = "flag"
        gb = self.env.ref("base.uk")
        leads = self.lead(name="RU") | self.lead(name="GB", country_id=gb.id)
        with self.refused("phone reads differently in each"):
            leads.with_user(self.user_salesman).write({"phone": "8 900 123-45-67"})
        # with its country code, one number for both
        leads.with_user(self.user_salesman).write({"phone": "+7 900 123 45 67"})
        self.assertEqual(set(leads.mapped("phone")), {"+7 (900) 123-45-67"})

    def test_without_legal_form_on_display(self):
        self.company.crm_company_name_display = "without_form"
        lead = self.lead(partner_name="«ООО «Ромашка»»")
        self.assertEqual(
            (lead.partner_name, lead.legal_form, lead.company_key), ("Ромашка", "ООО", "ромашка")
        )
        lead.write({"partner_name": "Лютик, ЗАО"})
        self.assertEqual((lead.partner_name, lead.legal_form), ("Лютик", "ЗАО"))
        lead.write({"partner_name": "Автосервис ИП Петров"})
        self.assertEqual((lead.partner_name, lead.legal_form), ("Автосервис ИП Петров", False))

    def test_form(self):
        with Form(self.env["crm.lead"].with_user(self.user_salesman)) as form:
            form.name = "From the form"
            form.team_id = self.team
            form.phone = "8 900 123 45 67"
            # formatted as typed (the form's onchange), before the save
            self.assertEqual(form.phone, "+7 (900) 123-45-67")
        self.assertEqual(form.record.phone, "+7 (900) 123-45-67")
        # Odoo's own onchange would read letters as a vanity number: the standard keeps them
        self.company.crm_phone_standard = "flag"
        with Form(form.record.with_user(self.user_salesman)) as edit:
            edit.phone = "8 900 CALL NOW"
            self.assertEqual(edit.phone, "8 900 CALL NOW")
        self.assertEqual(form.record.phone, "8 900 CALL NOW")
        self.assertTrue(form.record.phone_invalid)
        # outside the standard, Odoo's own onchange
        self.company.crm_phone_standard = "off"
        with Form(form.record.with_user(self.user_salesman)) as edit:
            edit.phone = "8 900 123 45 67"
            self.assertEqual(edit.phone, "+7 900 123-45-67")

    def test_import(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        result = Lead.load(
            ["name", "phone", "partner_name", "team_id/.id"],
            [
                ["Imported 1", "8 900 111-22-33", "ООО Ромашка", str(self.team.id)],
                ["Imported 2", "+7 (900) 1112233", "Ромашка, ООО", str(self.team.id)],
            ],
        )
        self.assertFalse(result["messages"], result["messages"])
        leads = Lead.browse(result["ids"])
        self.assertEqual(set(leads.mapped("phone")), {"+7 (900) 111-22-33"})
        self.assertEqual(set(leads.mapped("company_key")), {"ромашка"})
        result = Lead.load(
            ["name", "phone", "team_id/.id"],
            [
                ["Imported 3", "8 900 111-22-33", str(self.team.id)],
                ["Imported 4", "1", str(self.team.id)],
            ],
        )
        self.assertFalse(result["ids"], "nothing half-imported")
        self.assertIn("it has too few digits", result["messages"][0]["message"])

    def test_mail_gateway_flags_never_refuses(self):
        self.team.alias_name = "standard-sales"
        lead_id = (
            self.env["mail.thread"]
            .with_context(default_team_id=self.team.id)
            .message_process(
                "crm.lead",
                "From: ivan@example.com\nTo: standard-sales@example.com\nSubject: Call me\n"
                "Message-ID: <call-me@example.com>\n\nHello",
                custom_values={"phone": "CALL ME"},
            )
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.phone, "CALL ME")
        self.assertTrue(lead.phone_invalid)

    def test_duplicates_match_one_number_typed_three_ways(self):
        self.team.duplicate_policy = "block"
        self.lead(phone="8 900 123-45-67")
        for typed in ("+7 (900) 1234567", "89001234567"):
            with self.subTest(typed=typed), self.refused("These leads already exist"):
                self.lead(phone=typed)


class TestContactEntry(DataStandardCommon):
    def test_contacts(self):
        Partner = self.env["res.partner"].with_user(self.user_salesman)
        company = Partner.create(
            {"name": "ООО «Ромашка»", "is_company": True, "phone": "8 900 123-45-67"}
        )
        self.assertEqual(
            (company.phone, company.phone_sanitized), ("+7 (900) 123-45-67", "+79001234567")
        )
        self.assertEqual(
            (company.name, company.legal_form, company.company_key),
            ("ООО «Ромашка»", "ООО", "ромашка"),
        )
        person = Partner.create(
            {"name": "ИП Иванов", "parent_id": company.id, "phone": "8 (495) 1234567"}
        )
        self.assertEqual(person.phone, "+7 (495) 123-45-67")
        # a person's name is not a company's: nothing split off
        self.assertFalse(person.legal_form)
        self.assertFalse(person.company_key)
        with self.refused("it contains letters"):
            Partner.create({"name": "Bad", "phone": "CALL ME"})
        with self.refused("it has too few digits"):
            company.write({"phone": "12"})
        self.company.crm_phone_standard = "flag"
        flagged = Partner.create({"name": "Flagged", "phone": "CALL ME"})
        self.assertTrue(flagged.phone_invalid)
        self.company.crm_company_name_display = "without_form"
        company.write({"name": "Ромашка, ООО"})
        self.assertEqual((company.name, company.legal_form), ("Ромашка", "ООО"))

    def test_lead_phone_follows_its_customer(self):
        customer = (
            self.env["res.partner"]
            .with_user(self.user_salesman)
            .create({"name": "Ivan", "phone": "8 900 765-43-21"})
        )
        lead = self.lead(partner_id=customer.id)
        self.assertEqual(lead.phone, "+7 (900) 765-43-21")


class TestValueChecks(DataStandardCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls.env["utm.source"].create({"name": "Exhibition"})

    def test_source_required_from_a_stage_on(self):
        self.stage_qualification.source_required_from = True
        lead = self.lead(stage_id=self.stage_new.id)
        as_user = lead.with_user(self.user_salesman)
        with self.refused("“Lead” → “Qualification”: the lead source is not chosen."):
            as_user.write({"stage_id": self.stage_qualification.id})
        # later stages too, won included
        for stage in (self.stage_proposal, self.stage_won):
            with self.subTest(stage=stage.name), self.refused("the lead source is not chosen"):
                as_user.write({"stage_id": stage.id})
        as_user.write({"source_id": self.source.id, "stage_id": self.stage_proposal.id})
        self.assertEqual(lead.stage_id, self.stage_proposal)

    def test_checks_refuse_until_met(self):
        self.stage_qualification.write(
            {
                "check_email": True,
                "check_amount": True,
                "check_closing_date": True,
                "check_address": True,
            }
        )
        lead = self.lead(email_from="ivan@localhost", date_deadline="2000-01-01")
        as_user = lead.with_user(self.user_salesman)
        with self.assertRaises(UserError) as caught:
            as_user.write({"stage_id": self.stage_qualification.id})
        message = str(caught.exception)
        for text in (
            "the e-mail “ivan@localhost” is not a valid address",
            "the expected revenue is not above zero",
            "the expected closing date is in the past",
            "the address lacks a street or a postcode",
        ):
            self.assertIn(text, message)
        self.assertEqual(lead.stage_id, self.stage_new)
        as_user.write(
            {
                "email_from": "ivan@пример.рф",
                "expected_revenue": 100,
                "date_deadline": "2999-01-01",
                "street": "Тверская, 1",
                "zip": "125009",
                "stage_id": self.stage_qualification.id,
            }
        )
        self.assertEqual(lead.stage_id, self.stage_qualification)

    def test_an_empty_email_is_not_an_invalid_one(self):
        self.stage_qualification.check_email = True
        lead = self.lead()
        lead.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
        self.assertEqual(lead.stage_id, self.stage_qualification)

    def test_audit_mode_records_and_lets_through(self):
        self.team.regulation_mode = "audit"
        self.stage_qualification.check_amount = True
        lead = self.lead()
        lead.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
        self.assertEqual(lead.stage_id, self.stage_qualification)
        violation = self.env["crm.regulation.violation"].search([("lead_id", "=", lead.id)])
        self.assertTrue(violation)
        self.assertIn(
            "the expected revenue is not above zero", " ".join(violation.mapped("requirement"))
        )

    def test_checklist_shows_them(self):
        self.stage_qualification.write({"source_required_from": True, "check_amount": True})
        lead = self.lead()
        checklist = lead.with_user(self.user_salesman).regulation_checklist
        self.assertIn("the lead source is chosen", checklist)
        self.assertIn("the expected revenue is above zero", checklist)


class TestUtmList(DataStandardCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = mail_new_test_user(
            cls.env, login="ds_marketer", name="Marketer", groups="crm_regulation.group_marketer"
        )
        cls.crm_admin = mail_new_test_user(
            cls.env, login="ds_crm_admin", name="CRM Admin", groups="crm_regulation.group_crm_admin"
        )
        cls.outsider = mail_new_test_user(
            cls.env, login="ds_outsider", name="Outsider", groups="base.group_user"
        )

    def test_only_marketers_and_crm_admins_keep_the_list(self):
        for model in ("utm.source", "utm.medium", "utm.campaign"):
            with self.subTest(model=model):
                Model = self.env[model]
                with self.assertRaises(AccessError):
                    Model.with_user(self.user_salesman).create({"name": "My own"})
                with self.assertRaises(AccessError):
                    Model.with_user(self.user_salesman).name_create("My own")
                record = Model.with_user(self.marketer).create({"name": f"Fair {model}"})
                with self.assertRaises(AccessError):
                    record.with_user(self.user_salesman).write({"name": "Renamed"})
                record.with_user(self.crm_admin).write({"name": f"Fair 2026 {model}"})
                # users outside the role matrix keep Odoo's rights
                self.company.crm_role_matrix_for_sales_groups = False
                Model.with_user(self.outsider).create({"name": f"Outside {model}"})
                self.company.crm_role_matrix_for_sales_groups = True
                self.env["res.users"].invalidate_model()
                self.env.registry.clear_cache()

    def test_salespeople_pick_from_the_list(self):
        source = self.env["utm.source"].with_user(self.marketer).create({"name": "Webinar"})
        lead = self.lead(source_id=source.id)
        self.assertEqual(lead.source_id, source)


@tagged("post_install", "-at_install")
class TestDataStandardRpc(DataStandardCommon, HttpCase):
    def call(self, model, method, *args):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.user_salesman.id,
            "reg_salesman",
            model,
            method,
            list(args),
            {"context": {"lang": "en_US"}},
        )

    def test_rpc(self):
        lead_id = self.call(
            "crm.lead",
            "create",
            {"name": "RPC", "team_id": self.team.id, "phone": "8 900 123 45 67"},
        )
        self.assertEqual(self.env["crm.lead"].browse(lead_id).phone, "+7 (900) 123-45-67")
        with self.assertRaises(Fault) as caught:
            self.call(
                "crm.lead", "create", {"name": "RPC 2", "team_id": self.team.id, "phone": "abc"}
            )
        self.assertIn("it contains letters", caught.exception.faultString)
        with self.assertRaises(Fault) as caught:
            self.call("utm.source", "create", {"name": "Sneaky"})
        self.assertIn("Only marketers and CRM administrators", caught.exception.faultString)
        self.assertFalse(self.env["utm.source"].search([("name", "=", "Sneaky")]))

    def test_tour_the_form(self):
        lead = self.lead(type="opportunity", user_id=self.user_salesman.id)
        self.start_tour(
            f"/odoo/crm.lead/{lead.id}", "crm_regulation_data_standard_tour", login="reg_salesman"
        )
        self.assertEqual(lead.phone, "+7 (900) 123-45-67")


class TestWithoutLibrary(DataStandardCommon):
    def test_the_standard_needs_phonenumbers(self):
        library = data_standard.phonenumbers
        data_standard.phonenumbers = None
        try:
            with self.assertRaises(ValidationError):
                self.company.crm_phone_standard = "flag"
            self.company.crm_phone_standard = "off"
        finally:
            data_standard.phonenumbers = library


class TestDataStandardAttacks(DataStandardCommon):
    """The attack review's findings, each as the role that tried it."""

    def test_a_number_that_is_not_text(self):
        with self.refused("it has too few digits"):
            self.lead(phone=12)
        self.assertEqual(self.lead(phone=79001234567).phone, "+7 (900) 123-45-67")
        with self.refused("it has too few digits"):
            self.env["res.partner"].with_user(self.user_salesman).create({"name": "N", "phone": 12})

    def test_context_defaults_go_through_the_standard(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        with self.refused("it contains letters"):
            Lead.with_context(default_phone="garbage!!").create(
                {"name": "x", "team_id": self.team.id, "stage_id": self.stage_new.id}
            )
        lead = Lead.with_context(default_partner_name="ООО «Ромашка»").create(
            {"name": "y", "team_id": self.team.id, "stage_id": self.stage_new.id}
        )
        self.assertEqual((lead.legal_form, lead.company_key), ("ООО", "ромашка"))
        # on a write, the context never picks the standard: the lead's own (or its company's)
        lenient = self.env["crm.team"].create({"name": "Lenient", "phone_standard": "off"})
        lead.with_env(self.env).team_id = False
        with self.refused("it contains letters"):
            lead.with_user(self.user_salesman).with_context(default_team_id=lenient.id).write(
                {"phone": "zz-not-a-phone"}
            )
        with self.refused("it contains letters"):
            self.env["res.partner"].with_user(self.user_salesman).with_context(
                default_phone="garbage!!"
            ).create({"name": "z"})

    def test_fields_kept_by_the_standard_are_not_written_by_callers(self):
        lead = self.lead(phone="8 900 123-45-67", partner_name="ООО Ромашка")
        lead.with_user(self.user_salesman).write(
            {
                "legal_form": "FORGED",
                "company_key": "volga foods",
                "phone_sanitized": "+74950000000",
            }
        )
        self.assertEqual(
            (lead.legal_form, lead.company_key, lead.phone_sanitized),
            ("ООО", "ромашка", "+79001234567"),
        )
        forged = self.lead(legal_form="FORGED", company_key="x", phone_sanitized="+74950000000")
        self.assertFalse(forged.legal_form or forged.company_key or forged.phone_sanitized)
        partner = (
            self.env["res.partner"]
            .with_user(self.user_salesman)
            .create({"name": "P", "is_company": True, "company_key": "volga foods"})
        )
        self.assertEqual(partner.company_key, "p")

    def test_the_customers_phone_under_a_required_standard(self):
        self.company.crm_phone_standard = "off"
        customer = (
            self.env["res.partner"]
            .with_user(self.user_salesman)
            .create({"name": "C", "phone": "12"})
        )
        self.team.phone_standard = "required"
        with self.refused("“12”: it has too few digits"):
            self.lead(partner_id=customer.id)
        self.team.phone_standard = "flag"
        self.assertTrue(self.lead(partner_id=customer.id).phone_invalid)

    def test_the_forms_onchange_names_only_readable_customers(self):
        hidden = (
            self.env["res.partner"]
            .with_user(self.user_salesman_2)
            .create({"name": "Hidden", "phone": "+7 900 000-00-01"})
        )
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        spec = {"partner_id": {}, "phone": {}, "email_from": {}}
        with self.assertRaises(AccessError):
            Lead.onchange({"partner_id": hidden.id}, ["partner_id"], spec)
        own = (
            self.env["res.partner"]
            .with_user(self.user_salesman)
            .create({"name": "Own", "phone": "+7 900 000-00-02"})
        )
        result = Lead.onchange({"partner_id": own.id}, ["partner_id"], spec)
        self.assertEqual(result["value"]["phone"], "+7 (900) 000-00-02")

    def test_the_gateway_logs_the_value_checks_and_never_drops_an_email(self):
        self.stage_new.write({"source_required_from": True, "check_email": True})
        self.team.alias_name = "checked-sales"
        lead_id = (
            self.env["mail.thread"]
            .with_context(default_team_id=self.team.id)
            .message_process(
                "crm.lead",
                "From: ivan@localhost\nTo: checked-sales@example.com\nSubject: Hi\n"
                "Message-ID: <checked@example.com>\n\nHello",
                custom_values={"stage_id": self.stage_new.id},
            )
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.stage_id, self.stage_new)
        violations = self.env["crm.regulation.violation"].search([("lead_id", "=", lead.id)])
        self.assertEqual(set(violations.mapped("outcome")), {"would_refuse"})

    def test_users_do_not_feed_the_gateway_over_rpc(self):
        message = "From: x@example.org\nSubject: p\nMessage-Id: <p@x>\n\nhi"
        Thread = self.env["mail.thread"].with_user(self.user_salesman)
        with self.assertRaises(AccessError):
            Thread.message_process(
                "crm.lead", message, custom_values={"phone": "zz", "user_id": self.user_manager.id}
            )
        # routed by its headers, whatever the model given: a reply to another's lead
        hidden = self.lead(user=self.user_salesman_2, user_id=self.user_salesman_2.id)
        note = hidden.message_post(body="Hello", message_type="comment")
        reply = (
            "From: x@example.org\nSubject: Re: p\nMessage-Id: <p2@x>\n"
            f"In-Reply-To: {note.message_id}\n\nhi"
        )
        count = len(hidden.message_ids)
        with self.assertRaises(AccessError):
            Thread.message_process(False, reply)
        self.assertEqual(len(hidden.message_ids), count)

    def test_the_team_a_new_lead_gets_decides_its_standard(self):
        """Created without a team, a lead gets its salesperson's (crm): its standard."""
        self.company.crm_phone_standard = "off"
        self.team.phone_standard = "required"
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        with self.refused("it contains letters"):
            Lead.create({"name": "No team given", "phone": "8 900 123 45 67 CALL"})
        lead = Lead.create({"name": "No team given", "phone": "89001234567"})
        self.assertEqual((lead.team_id, lead.phone), (self.team, "+7 (900) 123-45-67"))

    def test_legal_forms_per_company_rights(self):
        admin = mail_new_test_user(
            self.env, login="ds_lf_admin", name="LF Admin", groups="crm_regulation.group_crm_admin"
        )
        other = self.env["res.company"].create({"name": "Other Co"})
        Form_ = self.env["crm.legal.form"].with_user(admin)
        own = Form_.create({"name": "SAS", "company_id": self.company.id})
        self.assertIn("SAS", Form_._forms_for(self.company.id))
        with self.assertRaises(AccessError):
            Form_.create({"name": "SRL", "company_id": other.id})
        with self.assertRaises(AccessError):
            Form_.create({"name": "SA"})  # a shared form: the system administrators'
        with self.assertRaises(AccessError):
            self.env.ref("crm_regulation.legal_form_ru_ooo").with_user(admin).active = False
        own.unlink()
        self.assertNotIn("SAS", Form_._forms_for(self.company.id))

    def test_a_records_own_utm_source(self):
        used = self.env["utm.source"].create({"name": "In use"})
        self.lead(source_id=used.id)
        own = self.env["utm.source"].create({"name": "Mailing 1"})
        Source = self.env["utm.source"].with_user(self.user_salesman)
        with flag(self.env, UTM_OWN_SOURCE):
            Source.create({"name": "Mailing 2"})
            own.with_user(self.user_salesman).name = "Mailing 1 (renamed)"
            with self.assertRaises(AccessError):
                used.with_user(self.user_salesman).name = "Hijacked"
        self.assertEqual(used.name, "In use")
