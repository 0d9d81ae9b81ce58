from datetime import datetime

from odoo.tests import tagged

from odoo.addons.crm_regulation.hooks import post_init_hook

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install", "crm_regulation")
class TestStageHistoryBackfill(CrmRegulationCommon):
    def _forget_history(self, leads):
        self.env.flush_all()
        self.env.cr.execute(
            "DELETE FROM crm_lead_stage_history WHERE lead_id = ANY(%s)", [leads.ids]
        )
        self.env.invalidate_all()

    def test_backfill_existing_leads(self):
        """Leads that predate the addon: open stays for active ones since their last stage
        update, a closed stay for lost and archived ones, nothing twice."""
        with self.at("2026-02-01 08:00:00"):
            active = self._create_leads(3, stage=self.stage_negotiation)
            lost = self._create_leads(1, stage=self.stage_proposal)
            archived = self._create_leads(1, stage=self.stage_presentation)
        with self.at("2026-02-05 08:00:00"):
            lost.action_set_lost(lost_reason_id=self.lost_reason.id)
            archived.action_archive()
        leads = active | lost | archived
        self._forget_history(leads)
        self.assertFalse(self.history(leads))

        post_init_hook(self.env)

        for lead in active:
            stay = self.history(lead)
            self.assertEqual(len(stay), 1)
            self.assertEqual(stay.stage_id, self.stage_negotiation)
            self.assertEqual(stay.date_in, datetime(2026, 2, 1, 8, 0))
            self.assertEqual(stay.user_id, self.user_salesman)
            self.assertEqual(stay.team_id, self.team)
            self.assertFalse(stay.date_out)
        lost_stay = self.history(lost)
        self.assertEqual((lost_stay.stage_id, lost_stay.end_reason), (self.stage_proposal, "lost"))
        self.assertEqual(lost_stay.date_out, datetime(2026, 2, 5, 8, 0))
        self.assertAlmostEqual(lost_stay.duration_hours, 96.0)
        self.assertEqual(self.history(archived).end_reason, "archived")

        # idempotent: a second run adds nothing
        self.assertEqual(self.env["crm.lead.stage.history"]._backfill(), 0)
        self.assertEqual(len(self.history(leads)), 5)

        # and the write path takes over from the backfilled rows
        active[0].stage_id = self.stage_contract
        self.assertEqual(self.history(active[0]).mapped("end_reason"), ["moved", False])

    def test_backfill_is_one_statement(self):
        leads = self._create_leads(30)
        self._forget_history(leads)
        before = self.env.cr.sql_log_count
        count = self.env["crm.lead.stage.history"]._backfill()
        self.assertEqual(count, 30)
        self.assertLessEqual(self.env.cr.sql_log_count - before, 2)
