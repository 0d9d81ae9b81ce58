import json
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, tagged

from odoo.addons.crm_regulation.models.cursor_flags import READER_PROFILES

from .role_matrix_common import RoleMatrixCommon


class TestAccessControl(RoleMatrixCommon):
    """Attacks on the role matrix, field protection, reassignment and temporary access."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = cls.users["salesperson"]
        cls.head = cls.users["head_of_sales"]
        cls.own_lead = cls._lead(cls.salesperson, cls.team)
        cls.colleague_lead = cls._lead(cls.colleague, cls.team)
        cls.subsub_lead = cls._lead(cls.subsub_salesperson, cls.subsub_team)
        cls.other_lead = cls._lead(cls.other_salesperson, cls.other_team)
        cls.unassigned_team_lead = cls._lead(cls.env["res.users"], cls.team)
        cls.unassigned_other_lead = cls._lead(cls.env["res.users"], cls.other_team)

    # ------------------------------------------------------------
    # a salesperson attacking a colleague's lead
    # ------------------------------------------------------------

    def test_leaving_a_team_ends_its_scope_at_once(self):
        """Archiving or moving a membership (Sales Team Members list) clears the cached
        scope of the member like any change of the team."""
        senior = self.users["senior_salesperson"]
        Lead = self.env["crm.lead"].with_user(senior)
        self.assertIn(self.colleague_lead, Lead.search([]))  # the scope is cached now
        membership = self.env["crm.team.member"].search(
            [("user_id", "=", senior.id), ("crm_team_id", "=", self.team.id)]
        )
        membership.crm_team_id = self.other_team
        self.assertNotIn(self.colleague_lead, Lead.search([]))
        self.assertIn(self.other_lead, Lead.search([]))
        membership.action_archive()
        self.assertNotIn(self.other_lead, Lead.search([]))

    def test_the_field_access_memo_lasts_one_transaction(self):
        self.registry.cache_invalidated.clear()
        self.assertEqual(self.colleague_lead.with_user(self.colleague).expected_revenue, 1000)
        self.assertIn(self.colleague.id, self.env.cr.cache[READER_PROFILES])
        self.env.cr.postcommit.run()  # what a commit runs after it (a cron's next run)
        self.assertFalse(self.env.cr.cache[READER_PROFILES])

    def test_field_access_follows_a_role_change_in_the_same_transaction(self):
        """The field access of leads is remembered per user on the cursor (every field read
        of a lead asks it): a role taken away in the same transaction, in another thread
        sharing the cursor or not, counts at once."""
        user = self.colleague
        lead = self.colleague_lead.with_user(user)
        # as in a request that cleared no cache yet: the field access is remembered
        self.registry.cache_invalidated.clear()
        self.assertEqual(lead.expected_revenue, 1000)  # a field read: Field.__get__
        self.assertIn(user.id, self.env.cr.cache[READER_PROFILES])
        user.group_ids = [
            (3, self.env.ref("crm_regulation.group_salesperson").id),
            (3, self.env.ref("sales_team.group_sale_salesman").id),
            (4, self.env.ref("crm_regulation.group_marketer").id),
        ]
        # another thread (a test server sharing this cursor) sees no cache cleared here
        self.registry.cache_invalidated.clear()
        with self.assertRaisesRegex(AccessError, "Your role cannot see"):
            _ = lead.expected_revenue  # the field read (Field.__get__) is what is tested
        self.assertEqual(lead.name, self.colleague_lead.name)

    def test_salesperson_cannot_touch_a_colleague_lead(self):
        lead = self.colleague_lead.with_user(self.salesperson)
        for values in (
            {"user_id": self.salesperson.id},
            {"team_id": self.other_team.id},
            {"stage_id": self.env["crm.stage"].search([], limit=1).id},
        ):
            with self.assertRaises(AccessError):
                lead.write(values)
        with self.assertRaises(AccessError):
            lead.unlink()
        with self.assertRaises(AccessError):
            self.own_lead.with_user(self.salesperson).unlink()
        self.colleague_lead.invalidate_recordset()
        self.assertEqual(self.colleague_lead.user_id, self.colleague)
        self.assertEqual(self.colleague_lead.team_id, self.team)
        self.assertTrue(self.own_lead.exists())

    def test_salesperson_cannot_reassign_own_lead(self):
        lead = self.own_lead.with_user(self.salesperson)
        with self.assertRaisesRegex(AccessError, "Only the head of sales reassigns"):
            lead.write({"user_id": self.colleague.id})
        with self.assertRaisesRegex(AccessError, "Only the head of sales reassigns"):
            lead.write({"team_id": self.other_team.id})
        with self.assertRaisesRegex(AccessError, "Only the head of sales reassigns"):
            lead.create({"name": "For a colleague", "user_id": self.colleague.id})
        self.assertEqual(self.own_lead.user_id, self.salesperson)
        # the head of sales reassigns within their teams
        self.own_lead.with_user(self.head).write(
            {"user_id": self.sub_salesperson.id, "team_id": self.sub_team.id}
        )
        self.assertEqual(self.own_lead.user_id, self.sub_salesperson)

    def test_colleague_lead_through_every_path(self):
        Lead = self.env["crm.lead"].with_user(self.salesperson)
        lead = self.colleague_lead
        self.assertFalse(Lead.search([("id", "=", lead.id)]))
        self.assertEqual(Lead.search_count([("id", "=", lead.id)]), 0)
        self.assertNotIn(lead.id, [row[0] for row in Lead.name_search(lead.name)])
        groups = Lead._read_group([("id", "in", (lead | self.own_lead).ids)], [], ["__count"])
        self.assertEqual(groups[0][0], 1)
        with self.assertRaises(AccessError):
            lead.with_user(self.salesperson).read(["name"])
        # documents attached to the lead
        message = lead.message_post(body="Confidential terms", message_type="comment")
        activity = lead.activity_schedule("mail.mail_activity_data_todo", user_id=self.colleague.id)
        attachment = self.env["ir.attachment"].create(
            {"name": "contract.pdf", "raw": b"%PDF", "res_model": "crm.lead", "res_id": lead.id}
        )
        for record in (message, activity, attachment):
            with self.assertRaises(AccessError, msg=record._name):
                record.with_user(self.salesperson).read(["res_id"] if "res_id" in record else [])
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.salesperson)
            .search([("model", "=", "crm.lead"), ("res_id", "=", lead.id)])
        )
        self.assertFalse(
            self.env["mail.activity"].with_user(self.salesperson).search([("id", "=", activity.id)])
        )
        self.assertFalse(
            self.env["ir.attachment"]
            .with_user(self.salesperson)
            .search([("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)])
        )
        # the stage history follows the lead
        History = self.env["crm.lead.stage.history"].with_user(self.salesperson)
        self.assertFalse(History.search([("lead_id", "=", lead.id)]))
        self.assertTrue(History.search([("lead_id", "=", self.own_lead.id)]))

    def test_unassigned_leads_of_own_teams_only(self):
        Lead = self.env["crm.lead"].with_user(self.salesperson)
        visible = Lead.search(
            [("id", "in", (self.unassigned_team_lead | self.unassigned_other_lead).ids)]
        )
        self.assertEqual(visible, self.unassigned_team_lead)
        # taking it is allowed, giving it to someone else is not
        with self.assertRaises(AccessError):
            self.unassigned_team_lead.with_user(self.salesperson).write(
                {"user_id": self.colleague.id}
            )
        self.unassigned_team_lead.with_user(self.salesperson).write(
            {"user_id": self.salesperson.id}
        )
        self.assertEqual(self.unassigned_team_lead.user_id, self.salesperson)
        # the team option off: own leads only
        self.team.member_pick_unassigned = False
        other = self._lead(self.env["res.users"], self.team)
        self.assertFalse(Lead.search([("id", "=", other.id)]))

    def test_head_of_sales_sees_three_levels(self):
        Lead = self.env["crm.lead"].with_user(self.head)
        leads = self.own_lead | self.colleague_lead | self.subsub_lead | self.other_lead
        self.assertEqual(
            Lead.search([("id", "in", leads.ids)]),
            self.own_lead | self.colleague_lead | self.subsub_lead,
        )
        # a new sub-team joins the tree: its leads are visible at once
        newcomer = self.env["crm.team"].create({"name": "New", "parent_id": self.subsub_team.id})
        lead = self._lead(self.env.user, newcomer)
        self.assertTrue(Lead.search([("id", "=", lead.id)]))
        newcomer.parent_id = False
        self.assertFalse(Lead.search([("id", "=", lead.id)]))
        with self.assertRaises(UserError):  # Odoo's recursion check, or ours
            self.team.parent_id = self.subsub_team
        with self.assertRaises(AccessError):
            self.env["crm.lead.outcome.report"].with_user(self.salesperson).search([])

    def test_export_head_of_sales_only(self):
        with self.assertRaises(AccessError):
            self.own_lead.with_user(self.salesperson).export_data(["name"])
        data = self.own_lead.with_user(self.head).export_data(["name"])
        self.assertEqual(data["datas"], [[self.own_lead.name]])

    # ------------------------------------------------------------
    # sensitive fields
    # ------------------------------------------------------------

    def test_sensitive_fields(self):
        marketer = self.users["marketer"]
        support = self.users["support"]
        accountant = self.users["accountant"]
        won = self._lead(self.colleague, self.team, won=True)
        for user in (marketer, support):
            lead = won.with_user(user)
            self.assertEqual(lead.read(["name"])[0]["name"], won.name)
            for fname in ("expected_revenue", "probability", "description", "contract_signed"):
                with self.assertRaisesRegex(AccessError, "Your role cannot see", msg=fname):
                    lead.read([fname])
                with self.assertRaises(AccessError, msg=fname):
                    lead.search([(fname, "!=", False)])
            self.assertNotIn("expected_revenue", lead.fields_get())
        # the marketer edits UTM only, the accountant the contract and payment fields
        won.with_user(marketer).write(
            {"source_id": self.env["utm.source"].create({"name": "Fair"}).id}
        )
        with self.assertRaisesRegex(AccessError, "Your role cannot change"):
            won.with_user(marketer).write({"name": "x"})
        self.assertEqual(
            won.with_user(accountant).read(["expected_revenue"])[0]["expected_revenue"], 1000
        )
        won.with_user(accountant).write({"first_payment_date": "2026-11-20"})
        with self.assertRaises(AccessError):
            won.with_user(accountant).write({"expected_revenue": 1})
        with self.assertRaises(AccessError):
            won.with_user(support).write({"name": "x"})
        # a field the admin adds to the list is hidden as well
        self.env.company.crm_sensitive_field_ids = self.env["ir.model.fields"]._get(
            "crm.lead", "phone"
        )
        with self.assertRaises(AccessError):
            won.with_user(marketer).read(["phone"])
        self.assertTrue(won.with_user(self.users["crm_admin"]).read(["phone"]))

    def test_reader_views(self):
        marketer = self.users["marketer"]
        views = (
            self.env["crm.lead"]
            .with_user(marketer)
            .get_views([(False, "form"), (False, "kanban"), (False, "list")])
        )
        for view_type in ("form", "kanban", "list"):
            arch = views["views"][view_type]["arch"]
            self.assertIn("campaign_id", arch)
            self.assertNotIn("expected_revenue", arch, view_type)
        fields = views["models"]["crm.lead"]["fields"]
        self.assertNotIn("expected_revenue", fields)
        accountant_views = (
            self.env["crm.lead"].with_user(self.users["accountant"]).get_views([(False, "form")])
        )
        self.assertIn("first_payment_date", accountant_views["views"]["form"]["arch"])
        # the sales roles keep Odoo's own views
        sales_views = self.env["crm.lead"].with_user(self.salesperson).get_views([(False, "form")])
        self.assertIn("expected_revenue", sales_views["views"]["form"]["arch"])

    # ------------------------------------------------------------
    # temporary access
    # ------------------------------------------------------------

    def expire(self):
        with self.enter_registry_test_mode():
            self.env.ref("crm_regulation.ir_cron_access_expiry").sudo().method_direct_trigger()
        self.env.invalidate_all()

    def _request(self, user, **values):
        return (
            self.env["crm.access.request"]
            .with_user(user)
            .create(
                {
                    "reason": "Covering for a colleague",
                    "date_end": datetime(2026, 12, 1, 18),
                    **values,
                }
            )
        )

    @freeze_time("2026-11-23 10:00:00")
    def test_temporary_access_to_leads_expires_by_itself(self):
        Lead = self.env["crm.lead"].with_user(self.salesperson)
        request = self._request(self.salesperson, lead_ids=[(6, 0, self.colleague_lead.ids)])
        self.assertEqual(request.state, "pending")
        with self.assertRaisesRegex(AccessError, "Only the head of sales"):
            request.with_user(self.salesperson).action_approve(request.revision)
        own = self._request(self.head, request_type="teams", team_ids=[(6, 0, self.other_team.ids)])
        with self.assertRaisesRegex(AccessError, "Nobody approves"):
            own.with_user(self.head).action_approve(own.revision)
        with self.assertRaises(AccessError):
            request.with_user(self.salesperson).write({"state": "approved"})
        self.assertEqual(request.state, "pending")
        self.assertFalse(Lead.search([("id", "=", self.colleague_lead.id)]))
        request.with_user(self.head).action_approve(request.revision)
        self.assertEqual(request.approver_id, self.head)
        self.assertTrue(Lead.search([("id", "=", self.colleague_lead.id)]))
        self.colleague_lead.with_user(self.salesperson).read(["name"])
        with self.assertRaises(AccessError):  # read only
            self.colleague_lead.with_user(self.salesperson).write({"name": "x"})
        with freeze_time("2026-12-01 18:00:01"):
            # the cron has not run: the rule itself ends the access
            self.assertEqual(request.state, "approved")
            self.assertFalse(Lead.search([("id", "=", self.colleague_lead.id)]))
            with self.assertRaises(AccessError):
                self.colleague_lead.with_user(self.salesperson).read(["name"])
            self.expire()
            self.assertEqual(request.state, "expired")
            messages = len(request.message_ids)
            self.expire()
            self.assertEqual(len(request.message_ids), messages)

    @freeze_time("2026-11-23 10:00:00")
    def test_temporary_role_ends_at_its_date(self):
        senior = "crm_regulation.group_senior_salesperson"
        Lead = self.env["crm.lead"].with_user(self.salesperson)
        role = self.env.ref(senior)
        request = self._request(self.salesperson, request_type="role", group_id=role.id)
        request.with_user(self.head).action_approve(request.revision)
        self.assertTrue(self.salesperson.has_group(senior))
        self.assertEqual(request.added_group_ids, role)
        self.assertTrue(Lead.search([("id", "=", self.colleague_lead.id)]))
        with freeze_time("2026-12-02"):
            self.assertFalse(Lead.search([("id", "=", self.colleague_lead.id)]))
            self.assertTrue(Lead.search([("id", "=", self.own_lead.id)]))  # own role intact
            self.expire()
            self.assertEqual(request.state, "expired")
            self.assertFalse(self.salesperson.has_group(senior))
            self.assertTrue(self.salesperson.has_group("crm_regulation.group_salesperson"))

    @freeze_time("2026-11-23 10:00:00")
    def test_nobody_grants_more_than_they_hold(self):
        other_head = self.other_head
        # a role the approver does not hold
        admin_role = self.env.ref("crm_regulation.group_crm_admin")
        with self.assertRaises(ValidationError):
            self._request(self.salesperson, request_type="role", group_id=admin_role.id)
        marketer = self._request(
            self.salesperson,
            request_type="role",
            group_id=self.env.ref("crm_regulation.group_marketer").id,
        )
        with self.assertRaisesRegex(AccessError, "you do not hold it"):
            marketer.with_user(self.head).action_approve(marketer.revision)
        # teams and leads outside the approver's scope
        teams = self._request(
            self.salesperson, request_type="teams", team_ids=[(6, 0, self.team.ids)]
        )
        with self.assertRaisesRegex(AccessError, "your own teams"):
            teams.with_user(other_head).action_approve(teams.revision)
        leads = self._request(
            self.salesperson, lead_ids=[(6, 0, self.other_lead.ids)], access_mode="write"
        )
        with self.assertRaisesRegex(AccessError, "cannot edit yourself"):
            leads.with_user(self.head).action_approve(leads.revision)
        # a salesperson decides nothing, a refusal is recorded
        with self.assertRaises(AccessError):
            teams.with_user(self.colleague).action_approve(teams.revision)
        teams.with_user(self.head).action_refuse("Ask your own head")
        self.assertEqual((teams.state, teams.refusal_reason), ("refused", "Ask your own head"))
        with self.assertRaises(UserError):
            teams.with_user(self.head).action_approve(teams.revision)
        # a sales role and a role outside sales are not combined, even by the admin
        with self.assertRaisesRegex(AccessError, "does not go with"):
            marketer.with_user(self.users["crm_admin"]).action_approve(marketer.revision)
        self.assertFalse(self.salesperson.has_group("crm_regulation.group_marketer"))
        # the admin grants a role the head of sales does not hold; sub-teams come with a team
        accountant = self._request(
            self.users["marketer"],
            request_type="role",
            group_id=self.env.ref("crm_regulation.group_accountant").id,
        )
        accountant.with_user(self.users["crm_admin"]).action_approve(accountant.revision)
        self.assertTrue(self.users["marketer"].has_group("crm_regulation.group_accountant"))
        sub = self._request(
            self.colleague, request_type="teams", team_ids=[(6, 0, self.sub_team.ids)]
        )
        sub.with_user(self.head).action_approve(sub.revision)
        self.assertTrue(
            self.env["crm.lead"]
            .with_user(self.colleague)
            .search([("id", "=", self.subsub_lead.id)])
        )

    def test_request_bad_input(self):
        with self.assertRaises(ValidationError):
            self._request(self.salesperson)  # no leads
        with self.assertRaises(ValidationError):
            self._request(
                self.salesperson,
                lead_ids=[(6, 0, self.own_lead.ids)],
                date_end=datetime.now() - timedelta(days=1),
            )
        with self.assertRaises(AccessError):
            self._request(
                self.salesperson, user_id=self.colleague.id, lead_ids=[(6, 0, self.own_lead.ids)]
            )
        self.assertFalse(
            self.env["crm.access.request"].search([("user_id", "=", self.salesperson.id)])
        )


@tagged("post_install", "-at_install")
class TestAccessControlRpc(RoleMatrixCommon, HttpCase):
    """A sample of the matrix over JSON-RPC on a running server."""

    def rpc(self, user, method, *args):
        response = self.url_open(
            "/jsonrpc",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "params": {
                        "service": "object",
                        "method": "execute_kw",
                        "args": [
                            self.env.cr.dbname,
                            user.id,
                            user.login,
                            "crm.lead",
                            method,
                            list(args),
                        ],
                    },
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    def test_rpc_sample(self):
        salesperson = self.users["salesperson"]
        head = self.users["head_of_sales"]
        own = self._lead(salesperson, self.team)
        colleague = self._lead(self.colleague, self.team)
        sub = self._lead(self.sub_salesperson, self.sub_team)
        other = self._lead(self.other_salesperson, self.other_team)
        # salesperson: own only, no unlink, no export, no reassignment
        result = self.rpc(
            salesperson, "search", [("id", "in", [own.id, colleague.id, sub.id, other.id])]
        )
        self.assertEqual(result["result"], [own.id])
        self.assertIn("error", self.rpc(salesperson, "read", [colleague.id], ["name"]))
        self.assertIn(
            "error", self.rpc(salesperson, "write", [colleague.id], {"user_id": salesperson.id})
        )
        self.assertIn(
            "error", self.rpc(salesperson, "write", [own.id], {"user_id": self.colleague.id})
        )
        self.assertIn("error", self.rpc(salesperson, "unlink", [own.id]))
        self.assertIn("error", self.rpc(salesperson, "export_data", [own.id], ["name"]))
        # head of sales: team and sub-teams, not the other team; no unlink
        result = self.rpc(head, "search", [("id", "in", [own.id, colleague.id, sub.id, other.id])])
        self.assertEqual(sorted(result["result"]), sorted([own.id, colleague.id, sub.id]))
        self.assertEqual(self.rpc(head, "search_count", [("id", "=", other.id)])["result"], 0)
        self.assertTrue(self.rpc(head, "write", [sub.id], {"user_id": self.colleague.id})["result"])
        self.assertIn("error", self.rpc(head, "unlink", [own.id]))
        # support: won leads only, no sensitive field
        support = self.users["support"]
        won = self._lead(self.other_salesperson, self.other_team, won=True)
        result = self.rpc(support, "search", [("id", "in", [own.id, won.id])])
        self.assertEqual(result["result"], [won.id])
        self.assertIn("error", self.rpc(support, "read", [won.id], ["expected_revenue"]))
        self.assertTrue(own.exists() and colleague.user_id == self.colleague)
