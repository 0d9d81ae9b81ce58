from typing import NamedTuple

from odoo import api, fields, models, tools
from odoo.fields import Domain

from .cursor_flags import READER_PROFILES, flags

# The visibility scopes of the role matrix: each role's record rule on crm.lead is
# ``[('regulation_scope', '=', <scope>)]``, resolved here when a query is built (never
# cached with the rule), so a temporary role or access ends at its date by itself.
# scope -> the group that holds it (a temporary holder loses it at the end date)
SCOPE_GROUPS = {
    "own": "sales_team.group_sale_salesman",
    "team": "crm_regulation.group_senior_salesperson",
    "subteams": "crm_regulation.group_head_of_sales",
    "marketer": "crm_regulation.group_marketer",
    "support": "crm_regulation.group_support",
    "accountant": "crm_regulation.group_accountant",
}
GRANT_SCOPES = ("granted_read", "granted_write")
# the leads a user may read, whatever role gives them: the scope of the records that hang
# off a lead (stage history, reports, activity analysis)
READABLE_SCOPE = "readable"
ALL_LEADS_GROUP = "sales_team.group_sale_salesman_all_leads"
# the roles of the matrix (every sales role implies the Salesperson): who holds one is governed
# by the role matrix whatever the company's setting
GOVERNED_GROUPS = (
    "crm_regulation.group_salesperson",
    "crm_regulation.group_marketer",
    "crm_regulation.group_support",
    "crm_regulation.group_accountant",
)
# Head of sales and above: reassign leads, review losses, decide on access, export
MANAGER_GROUPS = "crm_regulation.group_head_of_sales,sales_team.group_sale_manager"
# Context key: the scopes without the user's own temporary grants (what an approver may pass
# on is what their roles give, not what they were lent). It can only narrow a search.
WITHOUT_GRANTS_KEY = "crm_regulation_without_grants"


class Grant(NamedTuple):
    """An approved temporary access to leads and/or teams (sub-teams included)."""

    mode: str  # 'read' or 'write'
    lead_ids: tuple
    team_ids: tuple
    date_end: object  # naive UTC datetime


class ReaderProfile(NamedTuple):
    """What the field access of leads needs to know about one user, cached per user."""

    sales_end: object  # until when a sales role is held: None for good, False not at all
    readers: frozenset  # the reader roles held: marketer, support, accountant


class RegulationScope(NamedTuple):
    """What the role matrix needs to know about one user, cached per user.

    The cache is cleared when a team, a membership, a role or an access request changes
    (``registry.clear_cache()``, like Odoo does for groups). The end dates are compared
    with the current time at each query, never at caching time."""

    uid: int
    team_ids: tuple  # teams the user leads or is a member of
    pick_team_ids: tuple  # of those, the ones whose members see unassigned leads
    subteam_ids: tuple  # the user's teams and all their sub-teams
    temporary: dict  # group xmlid -> end of the temporary role that added it
    grants: tuple  # Grant
    # the role matrix applies to the user: they hold one of its roles, or their company
    # applies it to Odoo's own Sales groups (else those keep Odoo's own rights)
    governed: bool = True
    # the users of those teams and sub-teams (members and leaders): whose customers a head
    # of sales reads (res_partner.py)
    subteam_user_ids: tuple = ()

    def domain(self, scope, now, held=(), grants=True):
        """The leads of ``scope`` at ``now``; for READABLE_SCOPE, ``held`` names the scopes
        whose group the user holds (``"all"``: every lead). Without ``grants``, the
        temporary accesses to leads and teams give nothing."""
        if scope == READABLE_SCOPE:
            if "all" in held:
                return Domain.TRUE
            return Domain.OR(
                [
                    *(self.domain(name, now) for name in held),
                    self.domain("granted_read", now, grants=grants),
                ]
            )
        if scope in GRANT_SCOPES and not grants:
            return Domain.FALSE
        group = SCOPE_GROUPS.get(scope)
        if group in self.temporary and self.temporary[group] <= now:
            return Domain.FALSE
        if scope == "own":
            if not self.governed:  # Odoo's own "Personal Leads"
                return Domain("user_id", "in", [self.uid, False])
            return Domain("user_id", "=", self.uid) | (
                Domain("user_id", "=", False) & Domain("team_id", "in", self.pick_team_ids)
            )
        if scope == "team":
            return Domain("team_id", "in", self.team_ids)
        if scope == "subteams":
            return Domain("team_id", "in", self.subteam_ids)
        if scope == "marketer":
            return Domain.TRUE
        if scope == "support":
            return Domain("outcome", "=", "won")
        if scope == "accountant":
            return Domain("outcome", "=", "won") | Domain("contract_signed", "=", True)
        if scope in GRANT_SCOPES:
            modes = ("write",) if scope == "granted_write" else ("read", "write")
            valid = [g for g in self.grants if g.mode in modes and g.date_end > now]
            lead_ids = {lead_id for g in valid for lead_id in g.lead_ids}
            team_ids = {team_id for g in valid for team_id in g.team_ids}
            domain = Domain.FALSE
            if lead_ids:
                domain |= Domain("id", "in", sorted(lead_ids))
            if team_ids:
                domain |= Domain("team_id", "in", sorted(team_ids))
            return domain
        raise ValueError(f"Unknown regulation scope {scope!r}")


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _crm_regulation_domain(self, scope):
        """The leads of ``scope`` for the current user, now (the record rules' search)."""
        held = ()
        if scope == READABLE_SCOPE:
            user = self.env.user
            held = (
                ("all",)
                if user.has_group(ALL_LEADS_GROUP)
                else tuple(name for name, group in SCOPE_GROUPS.items() if user.has_group(group))
            )
        grants = not self.env.context.get(WITHOUT_GRANTS_KEY)
        return self._crm_regulation_scope().domain(
            scope, fields.Datetime.now(), held, grants=grants
        )

    @api.model
    def _crm_regulation_hold_end(self, groups):
        """Until when the current user holds one of ``groups`` (xmlids, comma-separated):
        None for good (or the superuser), else the latest end of the temporary roles that
        give one (in the past: not held any more), False when none is held."""
        if self.env.su:
            return None
        user = self.env.user
        temporary = self._crm_regulation_scope().temporary
        ends = []
        for xmlid in groups.split(","):
            if user.has_group(xmlid):
                if xmlid not in temporary:
                    return None
                ends.append(temporary[xmlid])
        return max(ends) if ends else False

    @api.model
    def _crm_regulation_holds(self, groups):
        """Whether the current user holds one of ``groups`` now: a role held temporarily
        counts until its end date, whether the expiry cron has run or not (the same end
        dates as the visibility scopes)."""
        end = self._crm_regulation_hold_end(groups)
        return end is None or (end is not False and end > fields.Datetime.now())

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        # (a role may come with the values or with the default groups of new users)
        self.env["ir.rule"]._crm_regulation_sync_stock_rules()
        return users

    def write(self, vals):
        result = super().write(vals)
        if self._get_invalidation_fields() & vals.keys():
            # roles changed: the field access memo of this cursor too (every thread)
            flags(self.env, READER_PROFILES).clear()
        if "group_ids" in vals:
            self.env["ir.rule"]._crm_regulation_sync_stock_rules()
        return result

    @api.model
    def _crm_regulation_roles_changed(self):
        """Roles or temporary accesses changed: the cached scopes and profiles of every
        worker, the field access memo of this cursor, Odoo's rules (in use or not)."""
        self.env.registry.clear_cache()
        flags(self.env, READER_PROFILES).clear()
        self.env["res.partner"]._crm_regulation_contacts_changed()
        self.env["ir.rule"]._crm_regulation_sync_stock_rules()

    @api.model
    def _crm_regulation_head_limited(self):
        """Whether the current user edits the regulation as a head of sales, for the teams
        of their tree only (not a sales administrator)."""
        user = self.env.user
        return user.has_group("crm_regulation.group_head_of_sales") and not user.has_group(
            "sales_team.group_sale_manager"
        )

    @api.model
    def _crm_regulation_head_team_ids(self):
        """The teams whose regulation the current head of sales edits: those they lead or
        belong to and their sub-teams (none once a temporary head role has ended)."""
        if not self._crm_regulation_holds("crm_regulation.group_head_of_sales"):
            return ()
        return self._crm_regulation_scope().subteam_ids

    @api.model
    def _crm_regulation_matrix_in_use(self):
        """Whether the role matrix governs anyone: a user holds one of its roles, or a
        company applies it to Odoo's Sales groups."""
        # sudo: whether any user or company uses the role matrix (a yes/no)
        if (
            self.env["res.company"]
            .sudo()
            .search_count([("crm_role_matrix_for_sales_groups", "=", True)], limit=1)
        ):
            return True
        group_ids = [self.env.ref(xmlid).id for xmlid in GOVERNED_GROUPS]
        # sudo: as above
        return bool(
            self.sudo()
            .with_context(active_test=False)
            .search_count([("all_group_ids", "in", group_ids)], limit=1)
        )

    @api.model
    @tools.ormcache("self.env.uid")
    def _crm_regulation_reader_profile(self):
        """ReaderProfile: what ``crm.lead``'s field access needs on every field read of a
        lead, in one cache lookup (the end is compared with the current time by
        the caller, never at caching time)."""
        user = self.env.user
        return ReaderProfile(
            sales_end=self.sudo(False)._crm_regulation_hold_end("sales_team.group_sale_salesman"),
            readers=frozenset(
                name
                for name in ("marketer", "support", "accountant")
                if user.has_group(SCOPE_GROUPS[name])
            ),
        )

    @api.model
    @tools.ormcache("self.env.uid")
    def _crm_regulation_scope(self):
        """The role-matrix facts of the current user (three small queries, then cached)."""
        uid = self.env.uid
        cr = self.env.cr
        self.env["crm.team"].flush_model(
            ["active", "user_id", "member_pick_unassigned", "parent_path"]
        )
        self.env["crm.team.member"].flush_model(["crm_team_id", "user_id", "active"])
        cr.execute(
            """
            SELECT t.id, t.member_pick_unassigned, t.parent_path
              FROM crm_team t
             WHERE t.active
               AND (t.user_id = %s OR EXISTS (
                    SELECT 1 FROM crm_team_member m
                     WHERE m.crm_team_id = t.id AND m.user_id = %s AND m.active))
            """,
            (uid, uid),
        )
        rows = cr.fetchall()
        team_ids = tuple(sorted(row[0] for row in rows))
        pick_team_ids = tuple(sorted(row[0] for row in rows if row[1]))
        subteam_ids = subteam_user_ids = ()
        if rows:
            cr.execute(
                """
                SELECT id FROM crm_team
                 WHERE active AND parent_path LIKE ANY(%s)
                """,
                ([f"{row[2]}%" for row in rows],),
            )
            subteam_ids = tuple(sorted({*team_ids, *(row[0] for row in cr.fetchall())}))
            cr.execute(
                """
                SELECT user_id FROM crm_team WHERE id = ANY(%s) AND user_id IS NOT NULL
                 UNION
                SELECT user_id FROM crm_team_member WHERE crm_team_id = ANY(%s) AND active
                """,
                (list(subteam_ids), list(subteam_ids)),
            )
            subteam_user_ids = tuple(sorted(row[0] for row in cr.fetchall()))
        # sudo: the user's own approved requests, read to build their scope
        requests = (
            self.env["crm.access.request"]
            .sudo()
            .search([("user_id", "=", uid), ("state", "=", "approved")])
        )
        temporary, grants = {}, []
        for request in requests:
            if request.request_type == "role":
                for xmlid in request.added_group_ids._get_external_ids().values():
                    for name in xmlid:
                        end = temporary.get(name)
                        temporary[name] = max(end, request.date_end) if end else request.date_end
                continue
            grants.append(request._grant())
        user = self.env.user
        governed = user.company_id.crm_role_matrix_for_sales_groups or any(
            user.has_group(xmlid) for xmlid in GOVERNED_GROUPS
        )
        return RegulationScope(
            uid,
            team_ids,
            pick_team_ids,
            subteam_ids,
            temporary,
            tuple(grants),
            governed,
            subteam_user_ids,
        )

    @api.model
    def _crm_regulation_governed(self):
        """Whether the role matrix applies to the current user (see RegulationScope)."""
        return not self.env.su and self._crm_regulation_scope().governed


class ResGroups(models.Model):
    _inherit = "res.groups"

    def write(self, vals):
        result = super().write(vals)
        # implied groups or members changed: the field access memo of this cursor too
        flags(self.env, READER_PROFILES).clear()
        if {"user_ids", "implied_ids", "all_user_ids"}.intersection(vals):
            self.env["ir.rule"]._crm_regulation_sync_stock_rules()
        return result
