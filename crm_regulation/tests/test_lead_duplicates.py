from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestLeadDuplicates(CrmRegulationCommon):
    """Duplicates at creation (warn / block, naming the original's owner)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spam = cls.env.ref("crm_regulation.lost_reason_spam")
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")
        cls.original = cls._create_leads(
            1,
            user=cls.user_salesman_2,
            email_from="Ivan <ivan@example.com>",
            phone="+7 900 000 00 01",
        )

    # ------------------------------------------------------------
    # duplicates at creation
    # ------------------------------------------------------------

    def create_lead(self, user=None, **values):
        return (
            self.env["crm.lead"]
            .with_user(user or self.user_salesman)
            .create({"name": "New request", "team_id": self.team.id, **values})
        )

    def test_duplicates_allowed_by_default(self):
        lead = self.create_lead(email_from="ivan@example.com")
        self.assertFalse(lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body))

    def test_warn_names_the_original_and_its_owner(self):
        self.team.duplicate_policy = "warn"
        lead = self.create_lead(email_from="IVAN@example.com")
        note = lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body)
        self.assertEqual(len(note), 1)
        # a salesperson does not read a colleague's lead: its owner is named, not the lead
        self.assertIn("a lead you cannot see (owner: Pavel Salesman)", note.body)
        self.assertNotIn(self.original.name, note.body)
        # the head of sales reads it: the lead, its owner and its team
        lead = self.create_lead(email_from="ivan@example.com", user=self.user_manager)
        note = lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body)
        self.assertIn(f"“{self.original.name}” (owner: Pavel Salesman", note.body)
        self.assertIn("team: Regulated Team", note.body)
        # the form warns while typing
        with Form(self.env["crm.lead"].with_user(self.user_salesman)) as form:
            form.name = "Typed"
            form.team_id = self.team
            form.phone = "+7 900 000 00 01"
        self.assertTrue(form.record.id)

    def test_block_refuses_and_says_who_owns_the_original(self):
        self.team.duplicate_policy = "block"
        count = self.env["crm.lead"].search_count([])
        with self.assertRaises(UserError) as caught:
            self.create_lead(phone="+7 900 000 00 01")
        self.assertIn("“New request” duplicates", str(caught.exception))
        self.assertIn("owner: Pavel Salesman", str(caught.exception))
        self.assertEqual(self.env["crm.lead"].search_count([]), count)
        # an import refuses the row and says why
        result = (
            self.env["crm.lead"]
            .with_user(self.user_salesman)
            .load(
                ["name", "team_id/.id", "email_from"],
                [["Imported", str(self.team.id), "ivan@example.com"]],
            )
        )
        self.assertFalse(result["ids"])
        self.assertIn("owner: Pavel Salesman", result["messages"][0]["message"])
        # a lead closed as lost is not an open original any more
        self.original.action_set_lost(lost_reason_id=self.no_response.id)
        self.assertTrue(self.create_lead(phone="+7 900 000 00 01"))

    def test_block_does_not_drop_customer_emails(self):
        """The mail gateway's leads are warned about, never refused."""
        self.team.duplicate_policy = "block"
        self.team.alias_name = "regulated-sales"
        lead_id = (
            self.env["mail.thread"]
            .with_context(default_team_id=self.team.id)
            .message_process(
                "crm.lead",
                "From: ivan@example.com\nTo: regulated-sales@example.com\nSubject: Again\n"
                "Message-ID: <again@example.com>\n\nHello",
            )
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.team_id, self.team)
        self.assertTrue(lead.message_ids.filtered(lambda m: "Possible duplicate" in m.body))
