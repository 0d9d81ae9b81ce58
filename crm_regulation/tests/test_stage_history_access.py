from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install", "crm_regulation")
class TestStageHistoryAccess(CrmRegulationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead_mine = cls._create_leads(1, user=cls.user_salesman)
        cls.lead_other = cls._create_leads(1, user=cls.user_salesman_2)
        (cls.lead_mine | cls.lead_other).write({"stage_id": cls.stage_qualification.id})

    def test_salesman_moves_own_lead(self):
        """A salesperson has no right on history rows, yet his stage moves are recorded."""
        self.lead_mine.with_user(self.user_salesman).stage_id = self.stage_proposal
        self.assertEqual(self.open_stays(self.lead_mine).stage_id, self.stage_proposal)
        self.assertEqual(self.history(self.lead_mine)[-1].user_id, self.user_salesman)

    def test_salesman_reads_own_history_only(self):
        History = self.env["crm.lead.stage.history"].with_user(self.user_salesman)
        visible = History.search([("lead_id", "in", (self.lead_mine | self.lead_other).ids)])
        self.assertEqual(visible.lead_id, self.lead_mine)
        self.assertEqual(len(visible), 2)
        self.assertEqual(self.lead_mine.with_user(self.user_salesman).stage_history_count, 2)
        with mute_logger("odoo.addons.base.models.ir_rule"), self.assertRaises(AccessError):
            self.history(self.lead_other).with_user(self.user_salesman).read(["date_in"])

    def test_salesman_reads_history_of_own_lost_lead(self):
        self.lead_mine.action_set_lost(lost_reason_id=self.lost_reason.id)
        History = self.env["crm.lead.stage.history"].with_user(self.user_salesman)
        stays = History.search([("lead_id", "=", self.lead_mine.id)])
        self.assertEqual(stays.mapped("end_reason"), ["lost", "moved"])

    def test_salesman_cannot_edit_create_delete(self):
        stays = self.history(self.lead_mine).with_user(self.user_salesman)
        History = self.env["crm.lead.stage.history"].with_user(self.user_salesman)
        with mute_logger("odoo.models"), self.assertRaises(AccessError):
            stays[0].write({"date_out": False})
        with mute_logger("odoo.models"), self.assertRaises(AccessError):
            stays.unlink()
        with mute_logger("odoo.models"), self.assertRaises(AccessError):
            History.create(
                {
                    "lead_id": self.lead_mine.id,
                    "stage_id": self.stage_new.id,
                    "date_in": "2026-01-01 00:00:00",
                }
            )
        self.assertEqual(len(self.history(self.lead_mine)), 2)

    def test_manager_reads_all_cannot_edit(self):
        History = self.env["crm.lead.stage.history"].with_user(self.user_manager)
        visible = History.search([("lead_id", "in", (self.lead_mine | self.lead_other).ids)])
        self.assertEqual(visible.lead_id, self.lead_mine | self.lead_other)
        with mute_logger("odoo.models"), self.assertRaises(AccessError):
            visible.unlink()
        # grouped figures for the reporting views
        groups = History._read_group(
            [("id", "in", visible.ids)], ["stage_id"], ["duration_hours:avg", "__count"]
        )
        self.assertEqual({stage for stage, _avg, _count in groups}, set(visible.stage_id))

    def test_salesman_through_rpc_style_calls(self):
        """What the web client and external RPC call: web_search_read / read_group."""
        History = self.env["crm.lead.stage.history"].with_user(self.user_salesman)
        result = History.web_search_read(
            [], {"lead_id": {}, "stage_id": {}, "duration_hours": {}, "end_reason": {}}
        )
        self.assertTrue(result["length"] >= 2)
        leads = {record["lead_id"] for record in result["records"]}
        self.assertNotIn(self.lead_other.id, leads)
        self.assertIn(self.lead_mine.id, leads)
