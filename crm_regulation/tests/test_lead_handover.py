from odoo.exceptions import AccessError, UserError

from odoo.addons.mail.tests.common import mail_new_test_user

from .test_lead_revival import RevivalCommon


class TestHandover(RevivalCommon):
    """Sasha leaves: two open leads (one moved on, with an SLA), a won one, a lost one in
    revival, her tasks and one of Pavel's on her leads. Maria, the team leader, hands over."""

    def setUp(self):
        super().setUp()
        self.stage_new.sla_hours = 8
        with self.at("2026-11-23 10:00:00"):
            self.open_leads = self._create_leads(2)
        with self.at("2026-11-23 12:00:00"):
            self.open_leads[0].with_user(self.user_salesman).stage_id = self.stage_qualification
        self.won = self._create_leads(1)
        self.won.with_user(self.user_salesman).action_set_won()
        self.revival = self.lose()
        call = self.env.ref("mail.mail_activity_data_call")
        self.sashas = self.env["mail.activity"]
        for lead in self.open_leads:
            self.sashas |= lead.activity_schedule(
                activity_type_id=call.id, user_id=self.user_salesman.id, summary="Sasha's call"
            )
        self.sashas |= self.open_leads[1].activity_schedule(
            activity_type_id=self.env.ref("crm_regulation.mail_activity_type_sla").id,
            user_id=self.user_salesman.id,
            summary="Move on before the SLA",
        )
        self.pavels = self.open_leads[0].activity_schedule(
            activity_type_id=call.id, user_id=self.user_salesman_2.id, summary="Pavel's call"
        )
        self.assertTrue(self.open_stays(self.open_leads[1]).sla_deadline, "an SLA running")
        self.stays_before = {
            stay.id: (stay.user_id, stay.date_in, stay.date_out, stay.sla_deadline)
            for stay in self.history(self.open_leads)
        }

    def hand_over(self, user, target):
        wizard = (
            self.env["crm.regulation.handover"]
            .with_user(user)
            .create({"user_id": self.user_salesman.id, "target_user_id": target.id})
        )
        self.assertEqual(wizard.lead_count, 2)
        return wizard.action_hand_over()

    def test_to_a_member_of_the_team(self):
        result = self.hand_over(self.user_manager, self.user_salesman_2)
        self.assertIn("2 leads of Sasha Salesman handed over", result["params"]["message"])
        self.assertEqual(self.open_leads.user_id, self.user_salesman_2)
        self.assertEqual(self.won.user_id, self.user_salesman, "closed deals keep their owner")
        self.assertEqual(self.sashas.user_id, self.user_salesman_2, "her tasks follow")
        self.assertEqual(self.pavels.user_id, self.user_salesman_2)
        self.assertEqual(self.enrollment(self.revival).owner_id, self.user_salesman_2)
        for lead in self.open_leads:
            self.assertTrue(
                lead.message_ids.filtered(
                    lambda m: "from Sasha Salesman to Pavel Salesman" in str(m.body)
                )
            )
        # the history as it was: the same stays, their owner snapshot and SLA
        stays = self.history(self.open_leads)
        self.assertEqual(set(stays.ids), set(self.stays_before))
        for stay in stays.filtered("date_out"):
            self.assertEqual(
                (stay.user_id, stay.date_in, stay.date_out, stay.sla_deadline),
                self.stays_before[stay.id],
            )
        self.assertEqual(
            self.open_stays(self.open_leads).mapped("sla_deadline"),
            [self.stays_before[s.id][3] for s in self.open_stays(self.open_leads)],
        )
        # once archived, the leaver keeps nothing open
        self.user_salesman.action_archive()
        Lead = self.env["crm.lead"]
        self.assertFalse(
            Lead.search([("user_id", "=", self.user_salesman.id), ("outcome", "=", "open")])
        )
        self.assertFalse(
            self.env["mail.activity"].search([("user_id", "=", self.user_salesman.id)])
        )

    def test_to_someone_outside_the_team_back_to_the_team(self):
        outsider = mail_new_test_user(
            self.env, login="handover_outsider", groups="crm_regulation.group_salesperson"
        )
        self.hand_over(self.user_manager, outsider)
        self.assertFalse(self.open_leads.user_id, "unassigned in the team")
        self.assertEqual(self.sashas.user_id, self.user_manager, "her tasks: the team leader")
        self.assertEqual(self.enrollment(self.revival).owner_id, self.user_manager)

    def test_only_to_a_salesperson(self):
        portal = mail_new_test_user(self.env, login="handover_portal", groups="base.group_portal")
        for user in (portal, self.marketer):
            self.team.member_ids |= user
            with self.assertRaises(UserError, msg=user.login):
                self.hand_over(self.user_manager, user)
        self.assertEqual(self.open_leads.user_id, self.user_salesman)

    def test_the_leader_leaves(self):
        self.team.user_id = self.user_salesman  # Sasha leads the team
        admin = mail_new_test_user(
            self.env, login="handover_admin", groups="sales_team.group_sale_manager"
        )
        self.env["crm.lead"].with_user(admin)._regulation_hand_over(self.user_salesman, None)
        self.assertFalse(self.open_leads.user_id)
        self.assertEqual(self.sashas.user_id, admin, "not back to the leaver: the caller")
        self.assertEqual(self.enrollment(self.revival).owner_id, admin)

    def test_salespeople_do_not_hand_over(self):
        with self.assertRaises(AccessError):
            self.hand_over(self.user_salesman_2, self.user_salesman_2)
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(self.user_salesman_2)._regulation_hand_over(
                self.user_salesman, self.user_salesman_2
            )
        self.assertEqual(self.open_leads.user_id, self.user_salesman)
        self.assertEqual(self.sashas.user_id, self.user_salesman)
