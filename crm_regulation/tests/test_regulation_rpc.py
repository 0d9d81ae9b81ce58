from xmlrpc.client import Fault

from odoo.tests import HttpCase, tagged

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install")
class TestRegulationRpc(CrmRegulationCommon, HttpCase):
    """The regulation over the wire (XML-RPC on a running server), as the salesperson."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stage_qualification.required_field_ids = cls._field("phone")
        cls._rule(
            name="Won only after contract and first payment",
            target="won",
            required_domain="[('contract_signed', '=', True), ('first_payment_date', '!=', False)]",
            message="Sign the contract and record the first payment first.",
        )

    def call(self, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.user_salesman.id,
            "reg_salesman",
            "crm.lead",
            method,
            list(args),
            {"context": {"lang": "en_US"}, **kwargs},
        )

    def test_rpc_write_is_refused_whole(self):
        leads = self._create_leads(2)
        leads[0].phone = "1"
        with self.assertRaises(Fault) as caught:
            self.call("write", leads.ids, {"stage_id": self.stage_qualification.id})
        self.assertIn("“Lead 1” → “Qualification”: “Phone” is empty.", caught.exception.faultString)
        leads.invalidate_recordset()
        self.assertEqual(set(leads.mapped("stage_id")), {self.stage_new})
        self.call("write", leads[0].ids, {"stage_id": self.stage_qualification.id})
        leads.invalidate_recordset()
        self.assertEqual(leads[0].stage_id, self.stage_qualification)

    def test_rpc_create_with_a_stage(self):
        with self.assertRaises(Fault) as caught:
            self.call(
                "create",
                [
                    {
                        "name": "Over the wire",
                        "team_id": self.team.id,
                        "stage_id": self.stage_qualification.id,
                    }
                ],
            )
        self.assertIn("“Phone” is empty", caught.exception.faultString)
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "Over the wire")]))

    def test_rpc_action_set_won(self):
        lead = self._create_leads(1, stage=self.stage_contract)
        with self.assertRaises(Fault) as caught:
            self.call("action_set_won", lead.ids)
        self.assertIn(
            "Sign the contract and record the first payment first.", caught.exception.faultString
        )
        self.call("write", lead.ids, {"contract_signed": True, "first_payment_date": "2026-11-20"})
        self.call("action_set_won", lead.ids)
        lead.invalidate_recordset()
        self.assertEqual(lead.won_status, "won")

    def test_rpc_error_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"]._load_module_terms(["crm_regulation"], ["ru_RU"])
        lead = self._create_leads(1)
        with self.assertRaises(Fault) as caught:
            self.xmlrpc_object.execute_kw(
                self.env.cr.dbname,
                self.user_salesman.id,
                "reg_salesman",
                "crm.lead",
                "write",
                [lead.ids, {"stage_id": self.stage_qualification.id}],
                {"context": {"lang": "ru_RU"}},
            )
        self.assertIn("Регламент продаж этого не допускает:", caught.exception.faultString)
        self.assertIn("не заполнено", caught.exception.faultString)
        self.assertIn("Ничего не изменено.", caught.exception.faultString)

    def test_rpc_lose_disqualify_and_return_to_work(self):
        """RPC action_set_lost: the reason and its requirements are enforced; a return to
        work over RPC needs its reason too."""
        original, lead = self._create_leads(2)
        duplicate = self.env.ref("crm_regulation.lost_reason_duplicate")
        with self.assertRaises(Fault) as caught:
            self.call("action_set_lost", lead.ids)
        self.assertIn("“Lead 1” → Lost: a lost reason is required.", caught.exception.faultString)
        with self.assertRaises(Fault) as caught:
            self.call("action_set_lost", lead.ids, lost_reason_id=duplicate.id)
        self.assertIn("the reason requires the original lead", caught.exception.faultString)
        lead.invalidate_recordset()
        self.assertTrue(lead.active)
        self.call(
            "action_set_lost", lead.ids, lost_reason_id=duplicate.id, duplicate_of_id=original.id
        )
        lead.invalidate_recordset()
        self.assertEqual(lead.outcome, "disqualified")
        with self.assertRaises(Fault) as caught:
            self.call("write", lead.ids, {"active": True})
        self.assertIn("a lost lead returns to work with a reason", caught.exception.faultString)
        with self.assertRaises(Fault):
            self.call("action_return_to_work", lead.ids, "")
        self.call("action_return_to_work", lead.ids, "Not a duplicate: another project")
        lead.invalidate_recordset()
        self.assertTrue(lead.active)
        self.assertEqual(lead.outcome, "open")
