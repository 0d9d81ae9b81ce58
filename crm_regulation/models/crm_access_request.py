from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command

from .res_users import MANAGER_GROUPS

# roles that can be held temporarily (a CRM administrator is never temporary)
GRANTABLE_ROLES = (
    "crm_regulation.group_salesperson",
    "crm_regulation.group_senior_salesperson",
    "crm_regulation.group_head_of_sales",
    "crm_regulation.group_marketer",
    "crm_regulation.group_support",
    "crm_regulation.group_accountant",
)
DECISION_FIELDS = {"state", "approver_id", "decision_date", "refusal_reason", "added_group_ids"}


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
        tracking=True,
        index=True,
    )
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    approver_id = fields.Many2one("res.users", string="Decided By", readonly=True, tracking=True)
    decision_date = fields.Datetime(readonly=True)
    refusal_reason = fields.Text(readonly=True, tracking=True)
    added_group_ids = fields.Many2many(
        "res.groups",
        "crm_access_request_added_group_rel",
        "request_id",
        "group_id",
        string="Groups Added",
        readonly=True,
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

    @api.constrains("request_type", "lead_ids", "team_ids", "group_id")
    def _check_scope(self):
        for request in self:
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

    @api.constrains("date_end")
    def _check_date_end(self):
        now = fields.Datetime.now()
        for request in self:
            if request.state == "pending" and request.date_end <= now:
                raise ValidationError(self.env._("A temporary access must end in the future."))

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                if DECISION_FIELDS.intersection(vals):
                    raise AccessError(self.env._("A request is decided by its approver."))
                if vals.get("user_id", self.env.uid) != self.env.uid and not (
                    self.env.user.has_group("crm_regulation.group_crm_admin")
                ):
                    raise AccessError(self.env._("You can only request access for yourself."))
        # the requester names leads and teams they may not see yet
        requests = super(CrmAccessRequest, self.sudo()).create(vals_list).with_env(self.env)
        requests._notify_approvers()
        return requests

    def write(self, vals):
        if not self.env.su:
            if DECISION_FIELDS.intersection(vals):
                raise AccessError(self.env._("A request is decided by its approver."))
            if any(request.state != "pending" for request in self):
                raise UserError(self.env._("Only a request still to approve can be changed."))
            if any(request.user_id != self.env.user for request in self):
                raise AccessError(self.env._("Only the requester changes a request."))
        return super().write(vals)

    def _subteams(self):
        """The requested teams with all their sub-teams."""
        teams = self.env["crm.team"].sudo().with_context(active_test=False)
        return teams.search([("id", "child_of", self.team_ids.ids)]) if self.team_ids else teams

    def _approvers(self):
        """Who is asked to decide: the heads of the requester's teams holding the right."""
        self.ensure_one()
        leaders = self.user_id.sudo().crm_team_ids.user_id
        return leaders.filtered(lambda u: u != self.user_id and u.has_groups(MANAGER_GROUPS))

    def _notify_approvers(self):
        activity_type = self.env.ref("mail.mail_activity_data_todo")
        for request in self.sudo():
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
        if not self.env.su and not user.has_groups(MANAGER_GROUPS):
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

    def _check_within_approver_rights(self):
        """Nobody grants more than they hold: the role itself, or the same access (read or
        edit) to the leads, or the teams in their own scope."""
        user = self.env.user
        if self.env.su:
            return
        is_admin = user.has_group("sales_team.group_sale_salesman_all_leads")
        scope = self.env["res.users"]._crm_regulation_scope()
        for request in self:
            if request.request_type == "role":
                # a CRM administrator holds every right of the other roles
                xmlid = request.group_id.get_external_id()[request.group_id.id]
                if not user.has_group(xmlid) and not user.has_group(
                    "crm_regulation.group_crm_admin"
                ):
                    raise AccessError(
                        self.env._(
                            "You cannot grant the role “%s”: you do not hold it.",
                            request.group_id.name,
                        )
                    )
            elif request.request_type == "leads":
                operation = "write" if request.access_mode == "write" else "read"
                leads = request.lead_ids.with_user(user).with_context(active_test=False)
                if leads._filtered_access(operation) != leads:
                    raise AccessError(
                        self.env._("You cannot grant access to leads you cannot %s yourself.")
                        % (self.env._("edit") if operation == "write" else self.env._("read"))
                    )
            elif not is_admin and not set(request._subteams().ids) <= set(scope.subteam_ids):
                raise AccessError(
                    self.env._("You can only grant access to your own teams and their sub-teams.")
                )

    def action_approve(self):
        self._check_approver()
        self._check_within_approver_rights()
        now = fields.Datetime.now()
        if any(request.date_end <= now for request in self):
            raise UserError(self.env._("This request has already ended: it can only be refused."))
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
        self.env.registry.clear_cache()
        return True

    def action_refuse(self, reason=None):
        self._check_approver()
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
        for request in self:
            is_decider = self.env.su or self.env.user.has_groups(MANAGER_GROUPS)
            if request.state not in ("pending", "approved") or (
                request.user_id != self.env.user and not is_decider
            ):
                raise AccessError(self.env._("You cannot cancel “%s”.", request.display_name))
        self.sudo()._end("cancelled")
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
        self.env.registry.clear_cache()

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
