"""The attack review of the role matrix (issue: privilege escalations): each finding as
the attacker, through the ORM, refused with a clear error and nothing changed."""

from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .common import CrmRegulationCommon, load_migration
from .role_matrix_common import RoleMatrixCommon

NOW = "2026-11-23 10:00:00"
UNTIL = datetime(2026, 12, 1, 18)


@tagged("post_install", "-at_install")
class SecurityCommon(RoleMatrixCommon):
    refused = CrmRegulationCommon.refused

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = cls.users["salesperson"]
        cls.senior = cls.users["senior_salesperson"]
        cls.head = cls.users["head_of_sales"]
        cls.admin = cls.users["crm_admin"]
        cls.employee = mail_new_test_user(
            cls.env, login="rm_employee", name="Plain Employee", groups="base.group_user"
        )
        cls.own_lead = cls._lead(cls.salesperson, cls.team)
        cls.colleague_lead = cls._lead(cls.colleague, cls.team)
        cls.sub_lead = cls._lead(cls.sub_salesperson, cls.sub_team)
        cls.subsub_lead = cls._lead(cls.subsub_salesperson, cls.subsub_team)
        cls.other_lead = cls._lead(cls.other_salesperson, cls.other_team)
        cls.unassigned_other_lead = cls._lead(cls.env["res.users"], cls.other_team)

    def request(self, user, **values):
        return (
            self.env["crm.access.request"]
            .with_user(user)
            .create({"reason": "Covering for a colleague", "date_end": UNTIL, **values})
        )

    def assert_unchanged(self, lead, name):
        lead.invalidate_recordset()
        self.assertTrue(lead.exists())
        self.assertEqual(lead.name, name)


@tagged("post_install", "-at_install")
@freeze_time(NOW)  # UNTIL is a fixed date: the requests end after NOW
class TestAccessRequestCommands(SecurityCommon):
    """Finding 1 (critical): x2many commands in the requester's values ran as superuser."""

    def test_commands_on_leads_are_refused(self):
        Requests = self.env["crm.access.request"].with_user(self.employee)
        lead, name = self.other_lead, self.other_lead.name
        count = self.env["crm.lead"].search_count([])
        for command in (
            (1, lead.id, {"name": "Rewritten"}),
            (2, lead.id),
            (0, 0, {"name": "Planted", "user_id": self.employee.id}),
        ):
            with self.subTest(command=command[0]), self.assertRaises(AccessError):
                Requests.create({"reason": "x", "date_end": UNTIL, "lead_ids": [command]})
            self.assert_unchanged(lead, name)
        self.assertEqual(self.env["crm.lead"].search_count([]), count)
        self.assertFalse(
            self.env["crm.access.request"].search([("user_id", "=", self.employee.id)])
        )

    def test_joining_a_team_through_its_commands_is_refused(self):
        members = self.other_team.crm_team_member_ids
        with self.assertRaises(AccessError):
            self.request(
                self.employee,
                request_type="teams",
                team_ids=[
                    (
                        1,
                        self.other_team.id,
                        {"crm_team_member_ids": [(0, 0, {"user_id": self.employee.id})]},
                    )
                ],
            )
        self.assertEqual(self.other_team.crm_team_member_ids, members)
        self.assertNotIn(self.employee, self.other_team.member_ids)

    def test_mail_fields_are_not_settable(self):
        message = self.other_lead.message_post(body="Secret terms", message_type="comment")
        attachment = self.env["ir.attachment"].create(
            {
                "name": "terms.pdf",
                "raw": b"%PDF",
                "res_model": "crm.lead",
                "res_id": self.other_lead.id,
            }
        )
        activity = self.other_lead.activity_schedule(
            "mail.mail_activity_data_todo", user_id=self.other_salesperson.id
        )
        follow = {"res_model": "crm.lead", "res_id": self.other_lead.id}
        for fname, command in (
            ("message_ids", (1, message.id, {"res_id": 0, "model": False})),
            ("message_ids", (0, 0, {"body": "x", "attachment_ids": [(4, attachment.id)]})),
            ("message_ids", (2, message.id)),
            ("activity_ids", (2, activity.id)),
            ("message_follower_ids", (0, 0, {**follow, "partner_id": self.employee.partner_id.id})),
            ("message_attachment_count", 1),
            ("state", "approved"),
            ("added_group_ids", [(4, self.env.ref("base.group_system").id)]),
            ("company_id", self.env.company.id),
            ("revision", 99),
        ):
            with self.subTest(field=fname), self.assertRaises(AccessError):
                self.request(
                    self.employee, lead_ids=[(6, 0, self.own_lead.ids)], **{fname: [command]}
                )
        self.assertEqual(message.exists().body, message.body)
        self.assertEqual((message.model, message.res_id), ("crm.lead", self.other_lead.id))
        self.assertTrue(attachment.exists() and activity.exists())
        self.assertEqual(attachment.res_id, self.other_lead.id)
        self.assertNotIn(self.employee.partner_id, self.other_lead.message_partner_ids)

    def test_defaults_in_the_context_are_ignored(self):
        Requests = self.env["crm.access.request"].with_user(self.employee)
        request = Requests.with_context(
            default_state="approved",
            default_approver_id=self.admin.id,
            default_added_group_ids=[(4, self.env.ref("base.group_system").id)],
            default_revision=7,
        ).create({"reason": "x", "date_end": UNTIL, "lead_ids": [self.other_lead.id]})
        self.assertEqual((request.state, request.revision), ("pending", 1))
        self.assertFalse(request.approver_id or request.added_group_ids)
        self.assertFalse(self.employee.has_group("base.group_system"))

    def test_ids_name_leads_the_requester_cannot_see(self):
        """What requests are for: naming, by id, leads one does not see yet."""
        for value in (
            [self.other_lead.id],
            [(6, 0, [self.other_lead.id])],
            [(4, self.other_lead.id)],
        ):
            request = self.request(self.employee, lead_ids=value)
            self.assertEqual(request.sudo().lead_ids, self.other_lead)
            self.assertEqual(request.state, "pending")

    def test_requester_writes_ids_only(self):
        request = self.request(self.salesperson, lead_ids=[self.colleague_lead.id])
        for values in (
            {"lead_ids": [(1, self.colleague_lead.id, {"name": "Rewritten"})]},
            {"lead_ids": [(0, 0, {"name": "Planted"})]},
            {"lead_ids": [(2, self.colleague_lead.id)]},
            {"state": "approved"},
            {"user_id": self.colleague.id},  # finding 8: re-targeting to another user
            {"company_id": self.env.company.id},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                request.with_user(self.salesperson).write(values)
        self.assert_unchanged(self.colleague_lead, self.colleague_lead.name)
        self.assertEqual((request.user_id, request.state), (self.salesperson, "pending"))
        request.with_user(self.salesperson).write({"lead_ids": [(6, 0, self.sub_lead.ids)]})
        self.assertEqual(request.sudo().lead_ids, self.sub_lead)
        self.assertEqual(request.revision, 2)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestApprovals(SecurityCommon):
    """Findings 2 and 3: an approval checks what it grants, as the approver; role grants
    stay in the approver's tree and companies."""

    def test_a_request_names_only_what_its_kind_grants(self):
        with self.refused("names only what its kind grants", ValidationError):
            self.request(
                self.salesperson,
                lead_ids=[self.own_lead.id],
                team_ids=[self.other_team.id],
            )
        request = self.request(self.salesperson, lead_ids=[self.own_lead.id])
        with self.refused("names only what its kind grants", ValidationError):
            request.with_user(self.salesperson).write({"team_ids": [self.other_team.id]})
        with self.refused("names only what its kind grants", ValidationError):
            self.request(
                self.salesperson,
                request_type="role",
                group_id=self.env.ref("crm_regulation.group_senior_salesperson").id,
                lead_ids=[self.other_lead.id],
            )
        # the form clears what the kind does not use
        with Form(self.env["crm.access.request"].with_user(self.salesperson)) as form:
            form.lead_ids.add(self.own_lead)
            form.request_type = "teams"
            form.team_ids.add(self.team)
            form.reason = "Covering"
            form.date_end = UNTIL
        self.assertFalse(form.record.lead_ids)

    def test_the_grant_is_what_the_kind_says(self):
        """A leads request with teams smuggled in (as an old database may hold) grants its
        leads only, and the approval checks that same set."""
        request = self.request(self.colleague, lead_ids=[self.own_lead.id])
        self.env.cr.execute(
            "INSERT INTO crm_access_request_team_rel (request_id, team_id) VALUES (%s, %s)",
            (request.id, self.other_team.id),
        )
        request.invalidate_recordset()
        grant = request._grant()
        self.assertEqual((grant.lead_ids, grant.team_ids), ((self.own_lead.id,), ()))
        request.with_user(self.head).action_approve(request.revision)
        Lead = self.env["crm.lead"].with_user(self.colleague)
        self.assertTrue(Lead.search([("id", "=", self.own_lead.id)]))
        self.assertFalse(Lead.search([("id", "=", self.other_lead.id)]))

    def test_leads_the_approver_cannot_see_are_not_dropped(self):
        request = self.request(self.salesperson, lead_ids=[self.other_lead.id])
        with self.refused("cannot read yourself", AccessError):
            request.with_user(self.head).action_approve(request.revision)
        mixed = self.request(self.salesperson, lead_ids=[self.other_lead.id, self.sub_lead.id])
        with self.refused("cannot read yourself", AccessError):
            mixed.with_user(self.head).action_approve(mixed.revision)
        self.assertEqual((request.state, mixed.state), ("pending", "pending"))
        self.assertFalse(
            self.env["crm.lead"]
            .with_user(self.salesperson)
            .search([("id", "=", self.other_lead.id)])
        )

    def test_role_grants_stay_in_the_approvers_tree(self):
        senior = self.env.ref("crm_regulation.group_senior_salesperson")
        head_role = self.env.ref("crm_regulation.group_head_of_sales")
        foreign = self.request(self.other_salesperson, request_type="role", group_id=head_role.id)
        with self.refused("members of your own teams", AccessError):
            foreign.with_user(self.head).action_approve(foreign.revision)
        self.assertFalse(self.other_salesperson.has_group("crm_regulation.group_head_of_sales"))
        # nobody in a team: only a CRM administrator grants them a role
        loner = mail_new_test_user(
            self.env, login="rm_loner", name="Loner", groups="crm_regulation.group_salesperson"
        )
        request = self.request(loner, request_type="role", group_id=senior.id)
        with self.refused("members of your own teams", AccessError):
            request.with_user(self.head).action_approve(request.revision)
        # a member of a sub-team: yes
        ok = self.request(self.sub_salesperson, request_type="role", group_id=senior.id)
        ok.with_user(self.head).action_approve(ok.revision)
        self.assertTrue(self.sub_salesperson.has_group("crm_regulation.group_senior_salesperson"))
        # the CRM administrator grants anyone of their companies
        foreign.with_user(self.admin).action_approve(foreign.revision)
        self.assertEqual(foreign.state, "approved")

    def test_role_grants_stay_in_the_approvers_companies(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        grantee = mail_new_test_user(
            self.env,
            login="rm_company_b",
            name="Salesperson of A and B",
            groups="crm_regulation.group_salesperson",
            company_id=self.env.company.id,
            company_ids=[(6, 0, (company_b | self.env.company).ids)],
        )
        self.sub_team.member_ids |= grantee
        request = self.request(
            grantee,
            request_type="role",
            group_id=self.env.ref("crm_regulation.group_senior_salesperson").id,
        )
        for approver in (self.head, self.admin):
            with self.refused("users of your own companies", AccessError):
                request.with_user(approver).action_approve(request.revision)
        self.assertEqual(request.state, "pending")
        # a request made in company B is not even seen by the deciders of company A
        only_b = mail_new_test_user(
            self.env,
            login="rm_only_b",
            name="Only B",
            groups="crm_regulation.group_salesperson",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )
        in_b = self.request(only_b, lead_ids=[self.own_lead.id])
        self.assertEqual(in_b.company_id, company_b)
        Requests = self.env["crm.access.request"].with_user(self.head)
        self.assertFalse(Requests.search([("id", "=", in_b.id)]))
        with mute_logger("odoo.addons.base.models.ir_rule"), self.assertRaises(AccessError):
            in_b.with_user(self.head).action_approve(in_b.revision)

    def test_approval_is_for_the_version_shown(self):
        request = self.request(self.salesperson, lead_ids=[self.colleague_lead.id])
        seen = request.revision
        request.with_user(self.salesperson).write({"lead_ids": [(4, self.sub_lead.id)]})
        with self.refused("was changed after you opened it", UserError):
            request.with_user(self.head).action_approve(seen)
        with self.refused("Open the request to approve it", UserError):
            request.with_user(self.head).action_approve()
        self.assertEqual(request.state, "pending")
        # the form's button sends the version it shows
        request.with_user(self.head).with_context(
            crm_access_revision=request.revision
        ).action_approve()
        self.assertEqual(request.state, "approved")
        with self.assertRaises(UserError):  # approved: no more changes
            request.with_user(self.salesperson).write({"reason": "Other"})

    def test_longest_access(self):
        with self.refused("90 days at most", ValidationError):
            self.request(
                self.salesperson,
                lead_ids=[self.own_lead.id],
                date_end=datetime(2026, 11, 23) + timedelta(days=91),
            )
        request = self.request(
            self.salesperson, lead_ids=[self.own_lead.id], date_end=datetime(2027, 2, 20)
        )
        with self.refused("90 days at most", ValidationError):
            request.with_user(self.salesperson).write({"date_end": datetime(2027, 6, 1)})
        self.env.company.crm_access_max_days = 0  # no limit
        request.with_user(self.salesperson).write({"date_end": datetime(2027, 6, 1)})
        with self.assertRaises(ValidationError):
            self.env.company.crm_access_max_days = -1


@tagged("post_install", "-at_install")
class TestMerge(SecurityCommon):
    """Finding 4: Odoo's merge deletes the merged leads as superuser."""

    def merge(self, user, leads):
        return (
            self.env["crm.merge.opportunity"]
            .with_user(user)
            .with_context(active_model="crm.lead", active_ids=leads.ids)
            .create({"opportunity_ids": [(6, 0, leads.ids)], "user_id": False, "team_id": False})
            .action_merge()
        )

    def test_read_only_lead_cannot_be_merged(self):
        """The attacker's own lead goes first (Odoo keeps the most advanced lead): the
        other lead's notes would move to it, and the other lead be deleted."""
        for user, (owner, team) in (
            (self.senior, (self.colleague, self.team)),  # reads the team's leads only
            (self.salesperson, (self.colleague, self.team)),
            (self.head, (self.other_salesperson, self.other_team)),
        ):
            with self.subTest(user=user.name):
                own = self._lead(user, self.team, probability=90)
                foreign = self._lead(owner, team, probability=10)
                note = foreign.message_post(body="Their notes", message_type="comment")
                with self.assertRaises(AccessError):
                    (own | foreign).with_user(user).merge_opportunity()
                with self.assertRaises(AccessError):
                    self.merge(user, own | foreign)
                self.assertTrue(foreign.exists())
                self.assertEqual((note.model, note.res_id), ("crm.lead", foreign.id))

    def test_below_crm_administrator_merged_leads_are_archived(self):
        for user, owner, team in (
            (self.salesperson, self.salesperson, self.team),
            (self.head, self.sub_salesperson, self.sub_team),
        ):
            with self.subTest(user=user.name):
                first = self._lead(owner, team, probability=10)
                second = self._lead(owner, team, probability=0)
                note = second.message_post(body="Second's notes", message_type="comment")
                head = self.merge(user, first | second)
                merged = self.env["crm.lead"].browse(head["res_id"])
                tail = (first | second) - merged
                self.assertTrue(tail.exists(), "merged lead deleted")
                self.assertFalse(tail.active)
                self.assertEqual(tail.duplicate_of_id, merged)
                self.assertIn("Merged into", tail.message_ids[0].body)
                self.assertEqual(note.res_id, merged.id)  # Odoo's merge moved it
                if not tail.probability:  # archiving it lost it: as a duplicate
                    self.assertEqual(
                        tail.lost_reason_id, self.env.ref("crm_regulation.lost_reason_duplicate")
                    )

    def test_crm_administrator_merges_as_odoo_does(self):
        first, second = self._lead(self.colleague, self.team), self._lead(self.colleague, self.team)
        result = self.merge(self.admin, first | second)
        self.assertEqual(len((first | second).exists()), 1)
        self.assertEqual((first | second).exists().id, result["res_id"])

    def test_convert_wizard_merge_archives(self):
        lead = self._lead(self.salesperson, self.team, type="lead", email_from="a@example.com")
        opportunity = self._lead(self.salesperson, self.team, email_from="a@example.com")
        wizard = (
            self.env["crm.lead2opportunity.partner"]
            .with_user(self.salesperson)
            .with_context(active_model="crm.lead", active_id=lead.id, active_ids=lead.ids)
            .create({"name": "merge", "duplicated_lead_ids": [(6, 0, (lead | opportunity).ids)]})
        )
        wizard.action_apply()
        self.assertEqual(len((lead | opportunity).exists()), 2)
        self.assertEqual(len((lead | opportunity).filtered("active")), 1)


@tagged("post_install", "-at_install")
class TestRuleDomainOracle(SecurityCommon):
    """Finding 5: the domains of rules are evaluated for everyone and their result shown:
    they may not read what the editor, or any salesperson, may not."""

    def rule(self, user, **values):
        return (
            self.env["crm.regulation.rule"]
            .with_user(user)
            .create({"name": "Probe", "target": "won", **values})
        )

    def test_paths_outside_what_a_salesperson_reads_are_refused(self):
        for domain in (
            "[('user_id.login', '=like', 'a%')]",
            "[('user_id.password', '=like', 'a%')]",
            "[('create_uid.email', '=like', 'a%')]",
            "[('company_id.name', '=like', 'a%')]",
            "[('partner_id.signup_type', '=', 'signup')]",
            "[('partner_id.user_ids.login', '=like', 'a%')]",
            "[('partner_id.opportunity_ids.expected_revenue', '>', 0)]",
            "[('duplicate_of_id.expected_revenue', '>', 0)]",
            "[('stage_history_ids.duration_hours', '>', 0)]",
            "[('message_ids.body', 'ilike', 'secret')]",
            "[('company_id', 'ilike', 'a')]",
            "[('partner_id', 'any!', [('name', '=', 'x')])]",
            "[('regulation_checklist', '=', False)]",
            # spellings that optimize turns into the paths above
            "[('id', 'any', [('user_id.login', '>', 'M')])]",
            "[('user_id', 'any', [('id', 'any', [('login', '>', 'M')])])]",
            "[('duplicate_of_id', 'ilike', 2024)]",
            "[('company_id', '=', 'My Company')]",
            "[('duplicate_of_id', 'child_of', [1])]",
            "[('name', 'any', [('id', '=', 1)])]",
        ):
            for fname in ("condition_domain", "required_domain"):
                with self.subTest(domain=domain, field=fname), self.assertRaises(ValidationError):
                    self.rule(self.admin, **{fname: domain})
        self.assertFalse(self.env["crm.regulation.rule"].search([("name", "=", "Probe")]))
        rule = self.rule(self.admin)
        with self.assertRaises(ValidationError):
            rule.with_user(self.admin).required_domain = "[('user_id.login', '=like', 'a%')]"

    def test_paths_every_salesperson_reads_are_accepted(self):
        for domain in (
            "[('contract_signed', '=', True), ('first_payment_date', '!=', False)]",
            "[('partner_id.category_id.name', '=', 'VIP')]",
            "[('team_id.name', '=', 'Sales')]",
            "[('user_id.name', 'ilike', 'Sales')]",
            "[('user_id', '=', 2)]",
            "[('tag_ids', 'any', [('name', '=', 'Family')])]",
            "[('source_id.name', '=', 'Fair')]",
            "[('partner_id', 'ilike', 'Azure')]",
        ):
            with self.subTest(domain=domain):
                self.rule(self.admin, required_domain=domain).unlink()

    def _hide_from_salespeople(self, model, domain, group=True):
        self.env["ir.rule"].create(
            {
                "name": "Hidden from salespeople",
                "model_id": self.env["ir.model"]._get_id(model),
                "domain_force": domain,
                "groups": [(4, self.env.ref("sales_team.group_sale_salesman").id)] if group else [],
            }
        )

    def test_evaluated_as_whoever_moves_the_lead(self):
        """The rules see what the mover sees, not what the superuser sees."""
        secret = self.env["res.partner.category"].create({"name": "Secret"})
        self._hide_from_salespeople("res.partner.category", "[('name', '!=', 'Secret')]")
        partner = self.env["res.partner"].create({"name": "Client", "category_id": secret.ids})
        lead = self._lead(self.salesperson, self.team, partner_id=partner.id)
        self.rule(self.env.user, required_domain="[('partner_id.category_id.name', '=', 'Secret')]")
        self.env.invalidate_all()
        with self.refused("the conditions of “Probe” are not met", UserError):
            lead.with_user(self.salesperson).write({"stage_id": self.won_stage.id})
        self.assertIn(
            "fa-times", lead.with_user(self.salesperson).regulation_checklist or "fa-times"
        )
        self.env.invalidate_all()
        lead.sudo().write({"stage_id": self.won_stage.id})  # a cron sees it
        self.assertEqual(lead.stage_id, self.won_stage)

    def test_a_record_the_mover_may_not_read_refuses_clearly(self):
        # (a global rule: the role matrix's own rule shows the customers of one's leads)
        self._hide_from_salespeople("res.partner", "[('name', '!=', 'Hidden Client')]", False)
        partner = self.env["res.partner"].create({"name": "Hidden Client"})
        lead = self._lead(self.salesperson, self.team, partner_id=partner.id)
        self.rule(self.env.user, required_domain="[('partner_id.name', '=', 'Hidden Client')]")
        self.env.invalidate_all()
        with self.refused("“Probe” reads data you may not see", UserError):
            lead.with_user(self.salesperson).write({"stage_id": self.won_stage.id})
        lead.invalidate_recordset()
        self.assertNotEqual(lead.stage_id, self.won_stage)
        # the checklist neither fails nor tells
        self.assertNotIn("Hidden", lead.with_user(self.salesperson).regulation_checklist or "")

    def unsafe_rule(self, active=True):
        """A rule an older version saved, that reads the users' logins."""
        rule = self.rule(self.env.user)
        self.env.cr.execute(
            "UPDATE crm_regulation_rule SET required_domain = %s, active = %s WHERE id = %s",
            ("[('user_id.login', '=like', 'a%')]", active, rule.id),
        )
        rule.invalidate_recordset()
        return rule

    def test_an_unsafe_rule_is_not_reactivated_nor_stops_the_pipeline(self):
        rule = self.unsafe_rule(active=False)
        with self.assertRaises(ValidationError):
            rule.with_user(self.admin).active = True
        # written active in the database directly: left out of the regulation, logged
        self.env.cr.execute("UPDATE crm_regulation_rule SET active = TRUE WHERE id = %s", [rule.id])
        self.env.registry.clear_cache()
        with mute_logger("odoo.addons.crm_regulation.models.crm_regulation_rule"):
            regulation = self.env["crm.regulation.rule"]._get_regulation()
        self.assertNotIn(rule.id, [spec.id for spec in regulation.rules])
        self.own_lead.with_user(self.salesperson).write({"stage_id": self.won_stage.id})

    def test_unsafe_rules_of_an_older_version_are_archived(self):
        rule = self.unsafe_rule()
        archived = self.env["crm.regulation.rule"]._archive_unsafe_rules()
        self.assertEqual(archived, rule)
        self.assertFalse(rule.active)
        self.assertFalse(self.env["crm.regulation.rule"]._archive_unsafe_rules())


@tagged("post_install", "-at_install")
class TestSensitiveTrackings(SecurityCommon):
    """Finding 6: trackings of sensitive fields never reach a reader role."""

    def test_reader_roles_get_no_sensitive_tracking(self):
        marketer, support = self.users["marketer"], self.users["support"]
        tracked = self.env(context={})  # the fixtures are made with tracking off
        won = tracked["crm.lead"].create(
            {"name": "Tracked", "user_id": self.salesperson.id, "team_id": self.team.id}
        )
        won.stage_id = self.won_stage
        subtypes = (self.env.ref("crm.mt_lead_won") | self.env.ref("crm.mt_lead_stage")).ids
        won.message_subscribe(
            (marketer | support | self.head | self.employee).partner_id.ids, subtypes
        )
        stage = self.env["crm.stage"].create({"name": "After-sale", "is_won": True})
        self.env.cr.precommit.run()
        won.with_user(self.salesperson).write({"stage_id": stage.id, "expected_revenue": 987654})
        self.env.cr.precommit.run()
        message = won.message_ids.filtered(lambda m: m.sudo().tracking_value_ids)[:1]
        trackings = message.sudo().tracking_value_ids
        self.assertIn("expected_revenue", trackings.field_id.mapped("name"))
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        by_partner = {partner: mail for mail in mails for partner in mail.recipient_ids}
        for reader in (marketer, support, self.employee):  # the employee may not read leads
            body = by_partner[reader.partner_id].body_html
            self.assertIn("After-sale", body, reader.name)
            self.assertNotIn("987", body, reader.name)
        self.assertIn("987", by_partner[self.head.partner_id].body_html)
        # the inbox and the chatter filter in the reader's own rights
        for reader in (marketer, support):
            shown = trackings._filter_has_field_access(won.with_user(reader).env)
            self.assertNotIn("expected_revenue", shown.field_id.mapped("name"), reader.name)
            self.assertIn("stage_id", shown.field_id.mapped("name"))
        # web push: one text for every device
        self.assertNotIn("987", won._generate_tracking_message(message))


@tagged("post_install", "-at_install")
class TestReportsFollowTheScopes(SecurityCommon):
    """Finding 7: stage history, activity analysis and the control reports follow the lead's
    scope; heads of sales reach them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.won_sub = cls._lead(cls.sub_salesperson, cls.sub_team, won=True)
        cls.won_other = cls._lead(cls.other_salesperson, cls.other_team, won=True)
        for lead in (cls.unassigned_other_lead, cls.sub_lead, cls.own_lead, cls.other_lead):
            lead.activity_schedule(
                "mail.mail_activity_data_call", user_id=cls.admin.id
            ).action_feedback(feedback="Confidential call notes")

    def visible(self, user, model):
        records = self.env[model].with_user(user).search([])
        return set(records.lead_id.ids)

    def test_salesperson_sees_own_leads_only(self):
        for model in ("crm.lead.stage.history", "crm.activity.report"):
            with self.subTest(model=model):
                seen = self.visible(self.salesperson, model)
                self.assertIn(self.own_lead.id, seen)
                self.assertEqual(
                    seen
                    & {
                        self.unassigned_other_lead.id,
                        self.other_lead.id,
                        self.sub_lead.id,
                        self.colleague_lead.id,
                    },
                    set(),
                )
        activity = self.env["crm.activity.report"].search(
            [("lead_id", "=", self.unassigned_other_lead.id)]
        )
        self.assertTrue(activity)
        with mute_logger("odoo.addons.base.models.ir_rule"), self.assertRaises(AccessError):
            activity.with_user(self.salesperson).read(["body"])
        for model in ("crm.lead.outcome.report", "crm.regulation.report"):
            with self.assertRaises(AccessError):
                self.env[model].with_user(self.salesperson).search([])

    def test_head_of_sales_reaches_the_control_reports_within_scope(self):
        teams = self.team | self.sub_team | self.subsub_team
        tree = set(
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search([("team_id", "in", teams.ids)])
            .ids
        )
        for model in (
            "crm.lead.stage.history",
            "crm.activity.report",
            "crm.lead.outcome.report",
            "crm.regulation.report",
        ):
            with self.subTest(model=model):
                seen = self.visible(self.head, model)
                self.assertTrue(seen)
                self.assertLessEqual(seen, tree)
        self.assertIn(self.won_sub.id, self.visible(self.head, "crm.lead.outcome.report"))
        self.assertIn(self.sub_lead.id, self.visible(self.head, "crm.regulation.report"))
        self.assertIn(self.sub_lead.id, self.visible(self.head, "crm.activity.report"))
        groups = (
            self.env["crm.lead.outcome.report"]
            .with_user(self.head)
            ._read_group([], ["team_id"], ["__count"])
        )
        self.assertEqual({team for team, _count in groups}, {self.sub_team})
        menus = self.env["ir.ui.menu"].with_user(self.head)._visible_menu_ids()
        for xmlid in (
            "crm_regulation.crm_lead_outcome_report_menu",
            "crm_regulation.crm_regulation_report_menu",
            "crm_regulation.crm_lead_stage_history_menu_report",
            "crm.crm_activity_report_menu",
        ):
            self.assertIn(self.env.ref(xmlid).id, menus, xmlid)
        # the CRM administrator sees every team
        self.assertIn(self.won_other.id, self.visible(self.admin, "crm.lead.outcome.report"))
        self.assertIn(self.other_lead.id, self.visible(self.admin, "crm.activity.report"))

    def test_senior_reads_the_team(self):
        seen = self.visible(self.senior, "crm.lead.stage.history")
        self.assertIn(self.colleague_lead.id, seen)
        self.assertFalse(seen & {self.sub_lead.id, self.other_lead.id})


@tagged("post_install", "-at_install")
class TestLowFindings(SecurityCommon):
    """Finding 8: the checklist, duplicates, expired temporary powers, reviews."""

    def test_checklist_says_nothing_to_reader_roles(self):
        Stage = self.env["crm.stage"]
        deal = Stage.create({"name": "Deal", "sequence": 5000, "team_ids": self.team.ids})
        signed = Stage.create({"name": "Signed", "sequence": 5001, "is_won": True})
        after_sale = Stage.create({"name": "After-sale", "sequence": 5002, "is_won": True})
        lead = self._lead(self.salesperson, self.team, stage_id=deal.id)
        won = self._lead(self.colleague, self.team, stage_id=signed.id)
        after_sale.required_field_ids = self.env["ir.model.fields"]._get(
            "crm.lead", "expected_revenue"
        )
        self.env["crm.regulation.rule"].create(
            {"name": "Paid", "target": "won", "required_domain": "[('contract_signed', '=', True)]"}
        )
        self.assertIn("Paid", lead.with_user(self.salesperson).regulation_checklist)
        self.assertIn("Paid", lead.with_user(self.users["accountant"]).regulation_checklist)
        self.assertIn(
            "Expected Revenue", won.with_user(self.users["accountant"]).regulation_checklist
        )
        self.assertFalse(lead.with_user(self.users["marketer"]).regulation_checklist)
        for role in ("marketer", "support"):
            as_reader = won.with_user(self.users[role])
            self.assertEqual(
                as_reader.read(["regulation_checklist"])[0]["regulation_checklist"], False
            )

    def test_duplicate_warning_names_only_readable_leads(self):
        self.team.duplicate_policy = "warn"
        self.other_lead.email_from = "secret.client@example.com"
        typed = (
            self.env["crm.lead"]
            .with_user(self.salesperson)
            .new(
                {
                    "name": "Typed",
                    "team_id": self.team.id,
                    "email_from": "secret.client@example.com",
                }
            )
        )
        message = typed._onchange_regulation_duplicates()["warning"]["message"]
        self.assertIn("a lead you cannot see (owner: Other Salesperson)", message)
        self.assertNotIn(self.other_lead.name, message)

    @freeze_time(NOW)
    def test_expired_temporary_head_of_sales_loses_powers_at_the_end(self):
        role = self.env.ref("crm_regulation.group_head_of_sales")
        request = self.request(self.sub_salesperson, request_type="role", group_id=role.id)
        request.with_user(self.admin).action_approve(request.revision)
        waiting = self.request(self.subsub_salesperson, lead_ids=[self.sub_lead.id])
        lead = self.sub_lead.with_user(self.sub_salesperson)
        self.assertTrue(lead.export_data(["name"]))
        with freeze_time("2026-12-01 18:00:01"):
            self.assertTrue(self.sub_salesperson.has_group("crm_regulation.group_head_of_sales"))
            with self.assertRaises(AccessError):
                lead.export_data(["name"])
            with self.assertRaises(AccessError):
                waiting.with_user(self.sub_salesperson).action_approve(waiting.revision)
            with self.assertRaises(AccessError):
                lead.action_loss_review_confirm()
        self.assertEqual(waiting.state, "pending")

    @freeze_time(NOW)
    def test_loss_review_needs_write_access(self):
        self.other_lead.action_set_lost(
            lost_reason_id=self.env.ref("crm_regulation.lost_reason_no_response").id
        )
        self.assertEqual(self.other_lead.loss_review_state, "to_review")
        request = self.request(self.head, lead_ids=[self.other_lead.id])
        request.with_user(self.other_head).action_approve(request.revision)
        lead = self.other_lead.with_user(self.head).with_context(active_test=False)
        self.assertTrue(lead.read(["name"]))  # read-only access
        with self.assertRaises(AccessError):
            lead.action_loss_review_confirm()
        with self.assertRaises(AccessError):
            lead.action_loss_review_return()
        self.assertEqual(self.other_lead.loss_review_state, "to_review")
        self.other_lead.with_user(self.other_head).action_loss_review_confirm()
        self.assertEqual(self.other_lead.loss_review_state, "confirmed")


@tagged("post_install", "-at_install")
class TestSecondReview(SecurityCommon):
    """What a second attack review of the fixes found."""

    def planted(self):
        return self.env["ir.attachment"].search([("name", "=", "planted.txt")])

    def plant(self):
        """A caller's default that would create an attachment on someone else's record."""
        return {
            "default_attachment_ids": [
                (
                    0,
                    0,
                    {
                        "name": "planted.txt",
                        "raw": b"x",
                        "res_model": "res.partner",
                        "res_id": self.admin.partner_id.id,
                    },
                )
            ]
        }

    @freeze_time(NOW)  # UNTIL is a fixed date: the request ends after NOW
    def test_defaults_never_reach_a_superuser_create(self):
        plan = self.env["mail.activity.plan"].create(
            {
                "name": "Presentation",
                "res_model": "crm.lead",
                "template_ids": [
                    (0, 0, {"activity_type_id": self.env.ref("mail.mail_activity_data_todo").id})
                ],
            }
        )
        stage = self.env["crm.stage"].create(
            {"name": "Presentation", "entry_activity_plan_id": plan.id}
        )
        lead = self.own_lead.with_user(self.salesperson).with_context(**self.plant())
        lead.write({"stage_id": stage.id})
        self.assertTrue(self.own_lead.activity_ids)
        self.assertFalse(self.own_lead.activity_ids.attachment_ids)
        self.env["crm.access.request"].with_user(self.salesperson).with_context(
            **self.plant()
        ).create({"reason": "x", "date_end": UNTIL, "lead_ids": [self.colleague_lead.id]})
        self.assertFalse(self.planted())

    def test_message_relations_take_ids_only(self):
        lead = self.own_lead
        message = lead.message_post(body="Stage moved", message_type="notification")
        tracking = self.env["mail.tracking.value"].create(
            {
                "field_id": self.env["ir.model.fields"]._get("crm.lead", "name").id,
                "old_value_char": "a",
                "new_value_char": "b",
                "mail_message_id": message.id,
            }
        )
        Message = self.env["mail.message"].with_user(self.salesperson)
        values = {"model": "crm.lead", "res_id": lead.id, "body": "x", "message_type": "comment"}
        for extra in (
            {"tracking_value_ids": [(2, tracking.id)]},
            {"tracking_value_ids": [(4, tracking.id)]},
            {"partner_ids": [(1, self.admin.partner_id.id, {"name": "Renamed"})]},
            {"partner_ids": [(0, 0, {"name": "New partner"})]},
        ):
            with self.subTest(extra=extra), self.assertRaises(AccessError):
                Message.create({**values, **extra})
        self.assertTrue(tracking.exists())
        self.assertEqual(tracking.mail_message_id, message)
        self.assertNotEqual(self.admin.partner_id.name, "Renamed")

    def test_the_regulation_notes_are_kept(self):
        self.env["crm.regulation.rule"].create(
            {
                "name": "Signed first",
                "target": "won",
                "required_domain": "[('contract_signed', '=', True)]",
                "bypass_group_ids": [(6, 0, self.env.ref("sales_team.group_sale_salesman").ids)],
            }
        )
        self.own_lead.with_user(self.salesperson).write({"stage_id": self.won_stage.id})
        note = self.own_lead.message_ids.filtered(
            lambda m: m.subtype_id == self.env.ref("crm_regulation.mt_regulation_bypass")
        )
        self.assertEqual(len(note), 1)
        as_author = note.with_user(self.salesperson)
        with self.assertRaises(AccessError):
            as_author.write({"body": "nothing happened"})
        with self.assertRaises(AccessError):
            as_author.unlink()
        self.assertIn("bypassed", note.body)
        # the return to work, written as a comment of its author
        lead = self._lead(self.salesperson, self.team).with_user(self.salesperson)
        lead.action_set_lost(lost_reason_id=self.env.ref("crm_regulation.lost_reason_spam").id)
        lead.action_return_to_work("Called back")
        returned = lead.sudo().message_ids.filtered(
            lambda m: m.subtype_id == self.env.ref("crm_regulation.mt_lead_returned")
        )
        with self.assertRaises(AccessError):
            lead._message_update_content(returned.with_user(self.salesperson), body="x")
        with self.assertRaises(AccessError):
            returned.with_user(self.salesperson).unlink()
        self.assertIn("Called back", returned.body)
        # an ordinary note of the lead stays the salesperson's to edit
        own_note = self.own_lead.with_user(self.salesperson).message_post(body="Called")
        own_note.with_user(self.salesperson).unlink()

    @freeze_time(NOW)
    def test_no_grant_outlives_the_approvers_own(self):
        head_role = self.env.ref("crm_regulation.group_head_of_sales")
        request = self.request(self.sub_salesperson, request_type="role", group_id=head_role.id)
        request.with_user(self.admin).action_approve(request.revision)  # until Dec 1st, 18:00
        # the temporary head passes nothing on beyond their own end
        longer = self.request(
            self.subsub_salesperson,
            request_type="role",
            group_id=self.env.ref("crm_regulation.group_senior_salesperson").id,
            date_end=UNTIL + timedelta(days=30),
        )
        with self.refused("what you approve cannot last longer", AccessError):
            longer.with_user(self.sub_salesperson).action_approve(longer.revision)
        within = self.request(self.subsub_salesperson, lead_ids=[self.subsub_lead.id])
        within.with_user(self.sub_salesperson).action_approve(within.revision)
        self.assertEqual(within.state, "approved")
        # what one was lent is not passed on: read access to a lead of another team
        lent = self.request(self.head, lead_ids=[self.other_lead.id])
        lent.with_user(self.other_head).action_approve(lent.revision)
        self.assertTrue(self.other_lead.with_user(self.head).read(["name"]))
        relay = self.request(self.colleague, lead_ids=[self.other_lead.id])
        with self.refused("cannot read yourself", AccessError):
            relay.with_user(self.head).action_approve(relay.revision)

    @freeze_time(NOW)
    def test_a_sales_role_does_not_lift_a_reader_role(self):
        marketer = self.users["marketer"]
        self.team.member_ids |= marketer
        request = self.request(
            marketer,
            request_type="role",
            group_id=self.env.ref("crm_regulation.group_salesperson").id,
        )
        with self.refused("does not go with", AccessError):
            request.with_user(self.head).action_approve(request.revision)
        self.assertFalse(marketer.has_group("sales_team.group_sale_salesman"))

    def test_mail_gateway_entry_is_not_rpc(self):
        from odoo.service.model import get_public_method  # noqa: PLC0415

        with self.assertRaises(AccessError):
            get_public_method(self.env["crm.lead"], "message_new")

    def test_duplicates_stay_in_the_company(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        team_b = self.env["crm.team"].create({"name": "B team", "company_id": company_b.id})
        self.env["crm.lead"].create(
            {"name": "B's client", "email_from": "b.client@example.com", "team_id": team_b.id}
        )
        self.team.duplicate_policy = "block"
        lead = (
            self.env["crm.lead"]
            .with_user(self.salesperson)
            .create({"name": "Mine", "team_id": self.team.id, "email_from": "b.client@example.com"})
        )
        self.assertTrue(lead)

    @freeze_time(NOW)
    def test_requests_copy_and_archived_subteams(self):
        request = self.request(self.salesperson, lead_ids=[self.colleague_lead.id])
        copy = request.with_user(self.salesperson).copy()
        self.assertEqual((copy.state, copy.sudo().lead_ids), ("pending", self.colleague_lead))
        self.subsub_team.active = False
        teams = self.request(self.colleague, request_type="teams", team_ids=[self.sub_team.id])
        teams.with_user(self.head).action_approve(teams.revision)
        self.assertEqual(teams.state, "approved")

    def test_upgrade_cleans_old_requests(self):
        with freeze_time(NOW):  # UNTIL is a fixed date
            request = self.request(self.salesperson, lead_ids=[self.own_lead.id])
        self.env.cr.execute(
            "UPDATE crm_access_request SET date_end = now() + interval '2 years', "
            "state = 'approved' WHERE id = %s",
            [request.id],
        )
        self.env.cr.execute(
            "INSERT INTO crm_access_request_team_rel (request_id, team_id) VALUES (%s, %s)",
            (request.id, self.other_team.id),
        )
        migration = load_migration("19.0.1.5.0")
        migration.migrate(self.env.cr, "19.0.1.4.0")
        request.invalidate_recordset()
        self.assertFalse(request.sudo().team_ids)
        self.assertLessEqual(request.date_end, datetime.now() + timedelta(days=91))
