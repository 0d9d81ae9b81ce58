from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command

from .caller_values import ids_commands, sudo_clean
from .res_users import MANAGER_GROUPS, WITHOUT_GRANTS_KEY, Grant

# roles that can be held temporarily (a CRM administrator is never temporary)
GRANTABLE_ROLES = (
    "crm_regulation.group_salesperson",
    "crm_regulation.group_senior_salesperson",
    "crm_regulation.group_head_of_sales",
    "crm_regulation.group_marketer",
    "crm_regulation.group_support",
    "crm_regulation.group_accountant",
)
CRM_ADMIN_GROUP = "crm_regulation.group_crm_admin"
# Roles of the sales hierarchy and roles outside it are not combined by a temporary grant:
# a reader role's rule reaches every lead, and a sales role lifts the reader's field limits.
SALES_ROLES = frozenset(
    {
        "crm_regulation.group_salesperson",
        "crm_regulation.group_senior_salesperson",
        "crm_regulation.group_head_of_sales",
        "sales_team.group_sale_salesman",
    }
)
READER_ROLES = frozenset(
    {
        "crm_regulation.group_marketer",
        "crm_regulation.group_support",
        "crm_regulation.group_accountant",
    }
)
# Odoo's "all leads" group (CRM administrators, sales administrators): no team tree limit
ALL_LEADS_GROUP = "sales_team.group_sale_salesman_all_leads"
# What a requester sets; everything else (state, decision, groups added, company, version)
# is the approver's or the system's. Relations are ids only (see _requester_values).
REQUEST_FIELDS = frozenset(
    {
        "user_id",
        "request_type",
        "lead_ids",
        "team_ids",
        "group_id",
        "access_mode",
        "reason",
        "date_end",
    }
)
# ... and what they may change while it waits: never whose request it is
EDITABLE_FIELDS = REQUEST_FIELDS - {"user_id"}
# the one field that names what a request of each kind grants
SCOPE_FIELDS = {"leads": "lead_ids", "teams": "team_ids", "role": "group_id"}
# context key of the version of a request its approver saw (the form's button sends it)
REVISION_KEY = "crm_access_revision"


class CrmAccessRequest(models.Model):
    _name = "crm.access.request"
    _description = "Temporary CRM Access"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state_sequence, date_end desc, id desc"

    user_id = fields.Many2one(
        "res.users",
        string="Requested By",
        required=True,
        default=lambda self: self.env.user,
        index=True,
        tracking=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: self.env.company,
        help="The company the access is asked in: only its deciders see the request.",
    )
    request_type = fields.Selection(
        [("leads", "Leads"), ("teams", "Teams"), ("role", "Role")],
        string="Access To",
        required=True,
        default="leads",
        tracking=True,
    )
    lead_ids = fields.Many2many(
        "crm.lead", "crm_access_request_lead_rel", "request_id", "lead_id", string="Leads"
    )
    team_ids = fields.Many2many(
        "crm.team",
        "crm_access_request_team_rel",
        "request_id",
        "team_id",
        string="Teams",
        help="The leads of these teams and of their sub-teams.",
    )
    group_id = fields.Many2one(
        "res.groups",
        string="Role",
        domain=lambda self: [("id", "in", self._grantable_role_ids())],
        tracking=True,
    )
    access_mode = fields.Selection(
        [("read", "Read"), ("write", "Read and Edit")],
        string="Access",
        required=True,
        default="read",
        tracking=True,
    )
    reason = fields.Text(required=True)
    date_end = fields.Datetime(
        string="Until", required=True, tracking=True, help="The access ends at this moment."
    )
    state = fields.Selection(
        [
            ("pending", "To Approve"),
            ("approved", "Approved"),
            ("refused", "Refused"),
            ("expired", "Expired"),
            ("cancelled", "Cancelled"),
        ],
        default="pending",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    revision = fields.Integer(
        default=1,
        readonly=True,
        copy=False,
        help="Technical: raised by every change of the requester, so that an approver "
        "approves the version they saw.",
    )
    approver_id = fields.Many2one(
        "res.users", string="Decided By", readonly=True, tracking=True, copy=False
    )
    decision_date = fields.Datetime(readonly=True, copy=False)
    refusal_reason = fields.Text(readonly=True, tracking=True, copy=False)
    added_group_ids = fields.Many2many(
        "res.groups",
        "crm_access_request_added_group_rel",
        "request_id",
        "group_id",
        string="Groups Added",
        readonly=True,
        copy=False,
        help="Technical: the groups the approval gave the user (removed at the end).",
    )
    is_valid = fields.Boolean(
        string="In Force", compute="_compute_is_valid", help="Approved and not yet ended."
    )

    @api.model
    def _grantable_role_ids(self):
        return [self.env.ref(xmlid).id for xmlid in GRANTABLE_ROLES]

    @api.depends("state")
    def _compute_state_sequence(self):
        order = {"pending": 0, "approved": 1}
        for request in self:
            request.state_sequence = order.get(request.state, 2)

    @api.depends("state", "date_end")
    def _compute_is_valid(self):
        now = fields.Datetime.now()
        for request in self:
            request.is_valid = request.state == "approved" and request.date_end > now

    @api.depends("user_id", "request_type", "date_end")
    def _compute_display_name(self):
        for request in self:
            what = dict(self._fields["request_type"]._description_selection(self.env)).get(
                request.request_type, ""
            )
            if request.request_type == "role" and request.group_id:
                what = request.group_id.name
            request.display_name = self.env._(
                "%(user)s: %(what)s", user=request.user_id.name or "", what=what
            )

    @api.onchange("request_type")
    def _onchange_request_type(self):
        # a request carries the scope of its kind only (see _check_scope)
        for kind, fname in SCOPE_FIELDS.items():
            if kind != self.request_type:
                self[fname] = False

    @api.constrains("request_type", "lead_ids", "team_ids", "group_id")
    def _check_scope(self):
        # sudo: leads the requester cannot see count too, lost (archived) ones as well
        for request in self.sudo().with_context(active_test=False):
            if request.request_type == "leads" and not request.lead_ids:
                raise ValidationError(self.env._("Choose the leads you need access to."))
            if request.request_type == "teams" and not request.team_ids:
                raise ValidationError(self.env._("Choose the teams you need access to."))
            if request.request_type == "role" and (
                request.group_id.id not in self._grantable_role_ids()
            ):
                raise ValidationError(
                    self.env._(
                        "Choose a role of the CRM regulation (a CRM administrator cannot be "
                        "temporary)."
                    )
                )
            if any(
                request[fname]
                for kind, fname in SCOPE_FIELDS.items()
                if kind != request.request_type
            ):
                raise ValidationError(
                    self.env._(
                        "A request names only what its kind grants: leads for leads, teams "
                        "for teams, a role for a role."
                    )
                )

    @api.constrains("date_end")
    def _check_date_end(self):
        now = fields.Datetime.now()
        for request in self:
            if request.state != "pending":
                continue
            if request.date_end <= now:
                raise ValidationError(self.env._("A temporary access must end in the future."))
            # sudo: the company's setting, whoever asks
            max_days = request.company_id.sudo().crm_access_max_days
            if max_days and request.date_end > now + timedelta(days=max_days):
                raise ValidationError(
                    self.env._(
                        "A temporary access lasts %s days at most: choose an earlier end.",
                        max_days,
                    )
                )

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.model
    def _requester_values(self, vals, allowed):
        """The values of a requester, checked: only the ``allowed`` fields, relations as
        ids (a list of ids, or set / link / unlink / clear commands of ids). No other x2many
        command passes: they would create, change or delete the related records."""
        refused = set(vals) - allowed
        if refused:
            raise AccessError(
                self.env._(
                    "An access request does not let you set: %s.",
                    ", ".join(sorted(refused)),
                )
            )
        values = dict(vals)
        for fname, value in vals.items():
            field = self._fields[fname]
            if field.type == "many2one":
                if value is not False and (not isinstance(value, int) or isinstance(value, bool)):
                    raise AccessError(self.env._("“%s” takes the id of a record.", fname))
            elif field.type == "many2many":
                values[fname] = ids_commands(self.env, fname, value)
        return values

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            requests = super().create(vals_list)
        else:
            is_admin = self.env.user.has_group(CRM_ADMIN_GROUP)
            clean_list = []
            for vals in vals_list:
                clean = self._requester_values(vals, REQUEST_FIELDS)
                if clean.get("user_id", self.env.uid) != self.env.uid and not is_admin:
                    raise AccessError(self.env._("You can only request access for yourself."))
                clean_list.append({**clean, "company_id": self.env.company.id})
            # sudo: the requester names leads and teams they may not see yet; only checked
            # values go in (whitelisted fields, ids), no default of the caller
            requests = (
                super(CrmAccessRequest, sudo_clean(self)).create(clean_list).with_env(self.env)
            )
        requests._notify_approvers()
        return requests

    def write(self, vals):
        if self.env.su:
            return super().write(vals)
        vals = self._requester_values(vals, EDITABLE_FIELDS)
        if any(request.state != "pending" for request in self):
            raise UserError(self.env._("Only a request still to approve can be changed."))
        if any(request.user_id != self.env.user for request in self):
            raise AccessError(self.env._("Only the requester changes a request."))
        # sudo: leads and teams named by id that the requester may not see yet; only
        # checked values go in (whitelisted fields, ids), no default of the caller
        requests = sudo_clean(self)
        result = super(CrmAccessRequest, requests).write(vals)
        # each change is a new version: an approver approves the one they saw
        for request in requests:
            request.revision += 1
        return result

    def copy_data(self, default=None):
        vals_list = super().copy_data(default)
        default = default or {}
        # sudo: the leads and teams the request names by id, read or not by its requester
        for request, vals in zip(
            self.sudo().with_context(active_test=False), vals_list, strict=True
        ):
            for fname in ("lead_ids", "team_ids"):
                if fname not in default:
                    vals[fname] = [Command.set(request[fname].ids)]
        return vals_list

    def _subteams(self):
        """The requested teams with all their sub-teams."""
        # sudo: the team tree, whoever reads it; active teams, as in the scopes
        teams = self.env["crm.team"].sudo()
        if not self.team_ids:
            return teams
        return teams.search([("id", "child_of", self.team_ids.ids), ("active", "=", True)])

    def _grant(self):
        """What an approved request gives, from its kind only: the same for the approval
        check and for the visibility scopes (res_users.RegulationScope)."""
        self.ensure_one()
        # sudo: leads (lost ones too) and teams the requester may not see yet
        request = self.sudo().with_context(active_test=False)
        lead_ids = tuple(request.lead_ids.ids) if request.request_type == "leads" else ()
        team_ids = tuple(request._subteams().ids) if request.request_type == "teams" else ()
        return Grant(request.access_mode, lead_ids, team_ids, request.date_end)

    def _approvers(self):
        """Who is asked to decide: the heads of the requester's teams holding the right."""
        self.ensure_one()
        # sudo: the leaders of the requester's teams, whoever asks
        leaders = self.user_id.sudo().crm_team_ids.user_id
        return leaders.filtered(lambda u: u != self.user_id and u.has_groups(MANAGER_GROUPS))

    def _notify_approvers(self):
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        # sudo: the requester schedules the approver's task (no default of theirs applies)
        for request in sudo_clean(self):
            for approver in request._approvers():
                request.activity_schedule(
                    activity_type_id=activity_type.id,
                    summary=self.env._("Approve or refuse this temporary access"),
                    user_id=approver.id,
                )

    # ------------------------------------------------------------
    # Decisions
    # ------------------------------------------------------------

    def _check_approver(self):
        user = self.env.user
        self.check_access("write")  # the deciders' record rules (companies) apply
        if not self.env["res.users"]._crm_regulation_holds(MANAGER_GROUPS):
            raise AccessError(
                self.env._("Only the head of sales or a CRM administrator decides on access.")
            )
        for request in self:
            if request.user_id == user:
                raise AccessError(self.env._("Nobody approves or refuses their own request."))
            if request.state != "pending":
                raise UserError(
                    self.env._("“%s” is not waiting for a decision.", request.display_name)
                )

    def _check_revision(self, revision):
        """The approver approves the version they saw: ``revision`` (an int for one
        request, or {id: revision}), else the one the form's button sends."""
        if self.env.su:
            return
        if revision is None:
            revision = self.env.context.get(REVISION_KEY)
        if isinstance(revision, int) and not isinstance(revision, bool) and len(self) == 1:
            revision = {self.id: revision}
        if not isinstance(revision, dict):
            raise UserError(
                self.env._(
                    "Open the request to approve it: an approval is for the version you saw."
                )
            )
        seen = {int(key): value for key, value in revision.items()}
        for request in self:
            if seen.get(request.id) != request.revision:
                raise UserError(
                    self.env._(
                        "“%s” was changed after you opened it: reload it and check it again.",
                        request.display_name,
                    )
                )

    def _check_within_approver_rights(self):
        """Nobody grants more than they hold, computed from what the approval grants
        (``_grant``), as the approver, from their roles (not from what they were lent
        themselves): the role itself, for a member of their own teams and sub-teams and
        companies; the same access (read or edit) to every lead; teams in their own tree;
        and never beyond the end of their own temporary role."""
        if self.env.su:
            return
        user = self.env.user
        Users = self.env["res.users"]
        is_admin = user.has_group(ALL_LEADS_GROUP)
        scope = Users._crm_regulation_scope()
        for request in self:
            grant = request._grant()
            self._check_approver_end(request)
            if request.request_type == "role":
                self._check_role_grant(request, scope, is_admin)
            elif request.request_type == "leads":
                operation = "write" if grant.mode == "write" else "read"
                leads = (
                    self.env["crm.lead"]
                    .with_context(active_test=False, **{WITHOUT_GRANTS_KEY: True})
                    .browse(grant.lead_ids)
                )
                if leads._filtered_access(operation) != leads:
                    raise AccessError(
                        self.env._("You cannot grant access to leads you cannot %s yourself.")
                        % (self.env._("edit") if operation == "write" else self.env._("read"))
                    )
            elif not is_admin and not set(grant.team_ids) <= set(scope.subteam_ids):
                raise AccessError(
                    self.env._("You can only grant access to your own teams and their sub-teams.")
                )

    def _role_xmlid(self):
        """The external id of the requested role (one of GRANTABLE_ROLES: _check_scope)."""
        # sudo: the role's external id, whoever approves
        return self.group_id.sudo().get_external_id()[self.group_id.id]

    def _check_approver_end(self, request):
        """A temporary head of sales (or a temporary holder of the role granted) passes
        nothing on beyond the end of their own role."""
        Users = self.env["res.users"]
        ends = [Users._crm_regulation_hold_end(MANAGER_GROUPS)]
        if request.request_type == "role":
            xmlid = request._role_xmlid()
            ends.append(Users._crm_regulation_hold_end(f"{xmlid},{CRM_ADMIN_GROUP}"))
        ends = [end for end in ends if end]  # None: held for good; False: refused elsewhere
        if ends and request.date_end > min(ends):
            raise AccessError(
                self.env._(
                    "Your own access ends on %s: what you approve cannot last longer.",
                    fields.Datetime.to_string(min(ends)),
                )
            )

    def _check_role_grant(self, request, scope, is_admin):
        Users = self.env["res.users"]
        # sudo: the role's name and the grantee's companies and groups, whoever approves
        role = request.group_id.sudo()
        grantee = request.user_id.sudo()
        xmlid = request._role_xmlid()
        if not Users._crm_regulation_holds(xmlid) and not Users._crm_regulation_holds(
            CRM_ADMIN_GROUP
        ):
            raise AccessError(
                self.env._("You cannot grant the role “%s”: you do not hold it.", role.name)
            )
        if grantee.company_ids - self.env.user.company_ids:
            raise AccessError(
                self.env._("You can only grant a role to users of your own companies.")
            )
        combined = READER_ROLES if xmlid in SALES_ROLES else SALES_ROLES
        if xmlid in SALES_ROLES | READER_ROLES and any(map(grantee.has_group, combined)):
            raise AccessError(
                self.env._(
                    "“%(user)s” holds a role that does not go with “%(role)s” (a sales role "
                    "and a role outside sales): a CRM administrator changes their roles.",
                    user=grantee.name,
                    role=role.name,
                )
            )
        if is_admin:
            return
        grantee_teams = set(Users.with_user(grantee)._crm_regulation_scope().team_ids)
        if not grantee_teams or not grantee_teams <= set(scope.subteam_ids):
            raise AccessError(
                self.env._(
                    "You can only grant a role to members of your own teams and their "
                    "sub-teams; ask a CRM administrator."
                )
            )

    @api.model
    def _crm_regulation_granting(self):
        """Whether a temporary access to leads or teams is approved (its rules active)."""
        # sudo: whether any approved access exists (a yes/no)
        return bool(
            self.sudo().search_count(
                [("state", "=", "approved"), ("request_type", "!=", "role")], limit=1
            )
        )

    def action_approve(self, revision=None):
        self._check_approver()
        self._check_revision(revision)
        self._check_within_approver_rights()
        now = fields.Datetime.now()
        if any(request.date_end <= now for request in self):
            raise UserError(self.env._("This request has already ended: it can only be refused."))
        # sudo: the approver's checked decision (no caller value goes in)
        for request in self.sudo():
            values = {"state": "approved", "approver_id": self.env.uid, "decision_date": now}
            if request.request_type == "role":
                user = request.user_id
                before = user.all_group_ids
                user.write({"group_ids": [Command.link(request.group_id.id)]})
                values["added_group_ids"] = [Command.set((user.all_group_ids - before).ids)]
            request.write(values)
            request.activity_unlink(["mail.mail_activity_data_todo"])
            request.message_post(
                body=self.env._(
                    "Approved by %(user)s until %(date)s.",
                    user=self.env.user.name,
                    date=fields.Datetime.to_string(request.date_end),
                ),
                partner_ids=request.user_id.partner_id.ids,
            )
        self.env["res.users"]._crm_regulation_roles_changed()
        return True

    def action_refuse(self, reason=None):
        self._check_approver()
        if reason is not None and not isinstance(reason, str):
            raise UserError(self.env._("The reason of a refusal is a text."))
        # sudo: the approver's decision; the reason is stored as text only
        for request in self.sudo():
            request.write(
                {
                    "state": "refused",
                    "approver_id": self.env.uid,
                    "decision_date": fields.Datetime.now(),
                    "refusal_reason": reason or False,
                }
            )
            request.activity_unlink(["mail.mail_activity_data_todo"])
            request.message_post(
                body=self.env._("Refused by %s.", self.env.user.name)
                + (f"\n{reason}" if reason else ""),
                partner_ids=request.user_id.partner_id.ids,
            )
        return True

    def action_cancel(self):
        """The requester withdraws a request, or a decider ends an access early."""
        self.check_access("write")
        is_decider = self.env["res.users"]._crm_regulation_holds(MANAGER_GROUPS)
        for request in self:
            if request.state not in ("pending", "approved") or (
                request.user_id != self.env.user and not is_decider
            ):
                raise AccessError(self.env._("You cannot cancel “%s”.", request.display_name))
        self.sudo()._end("cancelled")  # sudo: removes the groups the approval added
        return True

    def _end(self, state):
        """End approved accesses: the groups their approval added are removed (unless
        another access still in force gives them), the scopes cache is cleared."""
        roles = self.filtered(lambda r: r.state == "approved" and r.added_group_ids)
        still_held = self.search(
            [
                ("id", "not in", self.ids),
                ("user_id", "in", roles.user_id.ids),
                ("state", "=", "approved"),
                ("request_type", "=", "role"),
            ]
        )
        for request in roles:
            others = still_held.filtered(lambda r, user=request.user_id: r.user_id == user)
            if request.group_id not in others.group_id:
                request.user_id.write({"group_ids": [Command.unlink(request.group_id.id)]})
        self.write({"state": state})
        self.activity_unlink(["mail.mail_activity_data_todo"])
        self.env["res.users"]._crm_regulation_roles_changed()

    @api.model
    def _cron_expire(self, batch_size=200):
        """End the accesses past their date (the record rules already ignore them: this
        removes temporary roles and records the end). Batched, committed, idempotent."""
        domain = [("state", "=", "approved"), ("date_end", "<=", fields.Datetime.now())]
        while requests := self.search(domain, limit=batch_size):
            requests = requests.try_lock_for_update().filtered_domain(domain)
            if not requests:
                break
            requests._end("expired")
            requests._message_log_batch(
                bodies=dict.fromkeys(requests.ids, self.env._("The temporary access has ended."))
            )
            self.env["ir.cron"]._commit_progress(len(requests))
        return True
