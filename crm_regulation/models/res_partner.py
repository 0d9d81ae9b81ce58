"""The role matrix on contacts: whom each role reads, and who deletes or exports them."""

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.fields import Domain
from odoo.tools import SQL

from .res_users import ALL_LEADS_GROUP, MANAGER_GROUPS, SCOPE_GROUPS

# the lead scopes whose customers a user reads, and edits (the Marketer reads every lead,
# not every customer: only those of the leads in a revival program; the readers of won
# leads and the senior salesperson read customers they do not edit)
CUSTOMER_SCOPES = {
    "read": ("own", "team", "subteams", "support", "accountant", "granted_read"),
    "write": ("own", "subteams", "granted_write"),
}
# who reads every contact: Odoo's sales administrators and "All Documents" salespeople
ALL_CONTACTS_GROUPS = f"sales_team.group_sale_manager,{ALL_LEADS_GROUP}"
# the indexes the contacts' scope searches through (res_partner has none on these)
INDEXES = (
    ("res_partner_crm_regulation_user_id_index", ["user_id"], "user_id IS NOT NULL"),
    ("res_partner_crm_regulation_create_uid_index", ["create_uid"], ""),
)


class ResPartner(models.Model):
    _inherit = "res.partner"

    # the record rules of the role matrix search on these; their values are right for the
    # current user too, as Odoo checks rules on records in memory (``filtered_domain``, and
    # ``partner_id any`` on the models that inherit contacts: users, companies)
    crm_regulation_read = fields.Boolean(
        string="Read under the Role Matrix",
        compute="_compute_crm_regulation_read",
        search="_search_crm_regulation_read",
    )
    crm_regulation_write = fields.Boolean(
        string="Edited under the Role Matrix",
        compute="_compute_crm_regulation_write",
        search="_search_crm_regulation_write",
    )

    def _auto_init(self):
        result = super()._auto_init()
        for name, columns, where in INDEXES:
            tools.create_index(self.env.cr, name, self._table, columns, where=where)
        return result

    @api.depends_context("uid")
    def _compute_crm_regulation_read(self):
        self._crm_regulation_compute("read")

    @api.depends_context("uid")
    def _compute_crm_regulation_write(self):
        self._crm_regulation_compute("write")

    def _crm_regulation_compute(self, mode):
        """The field of ``mode`` for these contacts, in one query on their ids (Odoo's
        check of the rules on records in memory: a few records at a time)."""
        ids = [id_ for id_ in self._ids if isinstance(id_, int)]
        scope = self.sudo(False)._crm_regulation_contact_scope(mode) if ids else None
        if scope is None:
            allowed = set(ids)  # not under the role matrix: no query
        else:
            self.env.cr.execute(
                SQL(
                    "SELECT p.id FROM res_partner p WHERE p.id = ANY(%s) AND (%s)",
                    ids,
                    SQL(" OR ").join(self._crm_regulation_contact_predicates(scope)),
                )
            )
            allowed = {row[0] for row in self.env.cr.fetchall()}
        for partner in self:
            partner[f"crm_regulation_{mode}"] = partner._origin.id in allowed

    def _search_crm_regulation_read(self, operator, value):
        return self._crm_regulation_search("read", operator, value)

    def _search_crm_regulation_write(self, operator, value):
        return self._crm_regulation_search("write", operator, value)

    def _crm_regulation_search(self, mode, operator, value):
        if operator != "in" or list(value) != [True]:
            return NotImplemented
        # Odoo optimizes record rules as superuser: the scope is the user's (env.uid)
        scope = self.sudo(False)._crm_regulation_contact_scope(mode)
        if scope is None:
            return Domain.TRUE
        contacts = SQL(" UNION ").join(self._crm_regulation_contact_sets(scope))
        # "= ANY(ARRAY(...))": the contacts are computed once, then read by primary key
        # (PostgreSQL cannot estimate how few they are, and would rather scan every
        # contact to join them); in memory, the field itself (one query on the records)
        return Domain.custom(
            to_sql=lambda model, alias, query: SQL(
                "%s = ANY(ARRAY(%s))", SQL.identifier(alias, "id"), contacts
            ),
            predicate=lambda record: record[f"crm_regulation_{mode}"],
        )

    @api.model
    def _crm_regulation_contact_scope(self, mode):
        """What the contacts the current user reads (``mode`` "read") or edits ("write")
        under the role matrix are made of (None: every contact, as Odoo allows):

        - the customers of the leads their roles read (edit), the whole commercial entity
          (the company and its people); for a Marketer, those of the leads in revival
          (read): ``leads``, a query on leads;
        - the contacts whose salesperson they are (a head of sales: any user of their
          teams): ``salespeople``; the contacts they created: ``uid``;
        - to read, what Odoo itself shows everyone: the partners of internal users and of
          the user's companies: ``companies``.
        """
        Users = self.env["res.users"]
        if self.env.su or not Users._crm_regulation_governed():
            return None
        if Users._crm_regulation_holds(ALL_CONTACTS_GROUPS):
            return None
        user = self.env.user
        scope = Users._crm_regulation_scope()
        now = fields.Datetime.now()
        leads = Domain.OR(
            scope.domain(name, now)
            for name in CUSTOMER_SCOPES[mode]
            if name not in SCOPE_GROUPS or user.has_group(SCOPE_GROUPS[name])
        )
        if (
            mode == "read"
            and user.has_group(SCOPE_GROUPS["marketer"])
            and Users._crm_regulation_holds(SCOPE_GROUPS["marketer"])
        ):
            self.env["crm.revival.enrollment"].flush_model(["lead_id", "state"])
            leads |= Domain(
                "id",
                "any!",
                SQL("SELECT lead_id FROM crm_revival_enrollment WHERE state = 'running'"),
            )
        # sudo: the leads of the user's own scope (built above, nothing of the caller's)
        lead_query = (
            self.env["crm.lead"]
            .sudo()
            .with_context(active_test=False)
            ._search(leads & Domain("partner_id", "!=", False))
        )
        self.flush_model(["commercial_partner_id", "user_id", "create_uid"])
        self.env["res.users"].flush_model(["partner_id", "share"])
        salespeople = [user.id]
        if Users._crm_regulation_holds("crm_regulation.group_head_of_sales"):
            salespeople = sorted({user.id, *scope.subteam_user_ids})
        return {
            "mode": mode,
            "leads": lead_query,
            "salespeople": salespeople,
            "uid": user.id,
            "companies": user.company_ids.partner_id.ids if mode == "read" else [],
        }

    @api.model
    def _crm_regulation_contact_sets(self, scope):
        """The contacts of ``scope`` as sets to unite (a search: each part goes through an
        index, the customers' from the leads' side, one commercial entity at a time)."""
        leads = scope["leads"]
        parts = [
            SQL(
                "SELECT p.id FROM res_partner p WHERE p.commercial_partner_id IN ("
                "SELECT c.commercial_partner_id FROM %s"
                " JOIN res_partner c ON c.id = crm_lead.partner_id WHERE %s)",
                leads.from_clause,
                leads.where_clause,
            ),
            SQL("SELECT id FROM res_partner WHERE user_id = ANY(%s)", scope["salespeople"]),
            SQL("SELECT id FROM res_partner WHERE create_uid = %s", scope["uid"]),
        ]
        if scope["mode"] == "read":
            # what Odoo shows everyone (edited as Odoo allows: not through this rule)
            parts += [
                SQL("SELECT partner_id FROM res_users WHERE share IS NOT TRUE"),
                SQL("SELECT id FROM res_partner WHERE id = ANY(%s)", scope["companies"]),
            ]
        return parts

    @api.model
    def _crm_regulation_contact_predicates(self, scope):
        """The contacts of ``scope`` as conditions on one contact ``p`` (a check of a few
        records: each an index lookup from the contact's side)."""
        leads = scope["leads"]
        predicates = [
            SQL(
                "EXISTS (SELECT 1 FROM res_partner c JOIN %s ON crm_lead.partner_id = c.id"
                " WHERE c.commercial_partner_id = p.commercial_partner_id AND %s)",
                leads.from_clause,
                leads.where_clause,
            ),
            SQL("p.user_id = ANY(%s)", scope["salespeople"]),
            SQL("p.create_uid = %s", scope["uid"]),
        ]
        if scope["mode"] == "read":
            predicates += [
                SQL(
                    "EXISTS (SELECT 1 FROM res_users u WHERE u.partner_id = p.id"
                    " AND u.share IS NOT TRUE)"
                ),
                SQL("p.id = ANY(%s)", scope["companies"]),
            ]
        return predicates

    @api.model
    def _crm_regulation_check_readable(self, partner_ids):
        """Under the role matrix, the contacts a caller names (a lead's customer, a
        contact's company, a follower) are contacts they read: naming one would otherwise
        lend it, the role matrix showing the customers of one's own leads."""
        if partner_ids and self.env["res.users"]._crm_regulation_governed():
            self.browse(partner_ids).check_access("read")

    @api.model
    def _crm_regulation_contacts_changed(self):
        """Leads or contacts changed in this transaction: the contacts' access, computed
        for the current user, is computed again."""
        self.invalidate_model(["crm_regulation_read", "crm_regulation_write"])

    @api.model
    def _crm_regulation_named(self, context, vals_list, fnames):
        """The ids of the contacts that ``fnames`` of ``vals_list`` (or the ``default_``
        keys of ``context``, for a create) name."""
        ids = set()
        for vals in vals_list:
            for fname in fnames:
                value = vals[fname] if fname in vals else context.get(f"default_{fname}")
                if isinstance(value, int) and not isinstance(value, bool) and value:
                    ids.add(value)
        return list(ids)

    @api.model_create_multi
    def create(self, vals_list):
        self._crm_regulation_check_readable(
            self._crm_regulation_named(self.env.context, vals_list, ("parent_id",))
        )
        partners = super().create(vals_list)
        self._crm_regulation_contacts_changed()
        return partners

    def write(self, vals):
        self._crm_regulation_check_readable(self._crm_regulation_named({}, [vals], ("parent_id",)))
        result = super().write(vals)
        if {"user_id", "parent_id", "commercial_partner_id"}.intersection(vals):
            self._crm_regulation_contacts_changed()
        return result

    def _crm_regulation_check_manager(self, message):
        """Below head of sales, the role matrix's users neither delete nor export contacts."""
        Users = self.env["res.users"]
        if Users._crm_regulation_governed() and not Users._crm_regulation_holds(MANAGER_GROUPS):
            raise AccessError(message)

    def unlink(self):
        self._crm_regulation_check_manager(
            self.env._("Only the head of sales and CRM administrators delete contacts.")
        )
        return super().unlink()

    def export_data(self, fields_to_export):
        self._crm_regulation_check_manager(
            self.env._("Only the head of sales and CRM administrators export contacts.")
        )
        return super().export_data(fields_to_export)


class Base(models.AbstractModel):
    _inherit = "base"

    def export_data(self, fields_to_export):
        # below head of sales, the role matrix's users export no contact data, from any
        # list (a lead's customer's e-mail through the stage history, a follower's address)
        if self._name != "res.partner" and any(
            self._crm_regulation_exports_contact(path) for path in fields_to_export
        ):
            self.env["res.partner"]._crm_regulation_check_manager(
                self.env._("Only the head of sales and CRM administrators export contacts.")
            )
        return super().export_data(fields_to_export)

    @api.model
    def _crm_regulation_exports_contact(self, path):
        """Whether the export path ``path`` ("lead_id/partner_id/email") reads a field of a
        contact beyond its name, or a field related to one."""
        model = self
        names = path.replace(".id", "id").split("/")
        for position, name in enumerate(names):
            field = model._fields.get(name)
            if field is None:
                return False
            if (
                field.related
                and model._fields.get(field.related.split(".")[0], field).comodel_name
                == "res.partner"
            ):
                return True
            if field.comodel_name == "res.partner" and names[position + 1 :] not in (
                [],
                ["id"],
                ["display_name"],
            ):
                return True
            if not field.comodel_name:
                return False
            model = self.env[field.comodel_name]
        return False
