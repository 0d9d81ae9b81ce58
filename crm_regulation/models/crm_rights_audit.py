"""Rights audit: every internal user, their CRM role, the Odoo rights that give admin-like
power, their temporary accesses and logins; users whose rights exceed their role flagged."""

from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.tools import SQL, LazyTranslate

_lt = LazyTranslate(__name__)

# the roles, highest first within each family (the role shown is the first held)
ROLES = (
    ("crm_admin", "CRM Administrator", "crm_regulation.group_crm_admin"),
    ("head_of_sales", "Head of Sales", "crm_regulation.group_head_of_sales"),
    ("senior_salesperson", "Senior Salesperson", "crm_regulation.group_senior_salesperson"),
    ("salesperson", "Salesperson", "crm_regulation.group_salesperson"),
    ("marketer", "Marketer", "crm_regulation.group_marketer"),
    ("support", "Support", "crm_regulation.group_support"),
    ("accountant", "Accountant", "crm_regulation.group_accountant"),
    ("odoo_manager", "Odoo Sales / Administrator", "sales_team.group_sale_manager"),
    ("odoo_all", "Odoo Sales / All Documents", "sales_team.group_sale_salesman_all_leads"),
    ("odoo_own", "Odoo Sales / Own Documents", "sales_team.group_sale_salesman"),
)
SALES_ROLES = ("crm_admin", "head_of_sales", "senior_salesperson", "salesperson")
READER_ROLES = ("marketer", "support", "accountant")
MANAGER_ROLES = ("crm_admin", "head_of_sales", "odoo_manager")
# the Odoo rights that give admin-like power: field -> group
POWERS = {
    "settings": "base.group_system",
    # (Odoo 19's "Technical Features" come with every internal user's debug mode: the
    # technical power is the administration of users and their groups)
    "technical": "base.group_erp_manager",
    "export": "base.group_allow_export",
    "contact_deletion": "base.group_partner_manager",
    "multi_company": "base.group_multi_company",
}
DORMANT_DAYS = 90
# why a user's rights exceed their role (crm.rights.audit._flags), in this order
FLAGS = {
    "settings": _lt("Administration / Settings without the CRM Administrator role."),
    "technical": _lt(
        "Administration / Access Rights (users and their groups) below CRM administrator."
    ),
    "export": _lt("Export of every list below head of sales."),
    "contact_deletion": _lt(
        "Deletes contacts: Odoo's Sales groups outside the role matrix (Settings)."
    ),
    "multi_company": _lt("Several companies below head of sales."),
    "odoo_all": _lt("Odoo's Sales / All Documents: reads every lead below head of sales."),
    "odoo_manager": _lt("Odoo's Sales / Administrator without the CRM Administrator role."),
    "mixed_roles": _lt("A sales role and a role outside sales at once: their rights add up."),
    "archived_access": _lt("Archived with a temporary access running."),
    "dormant": _lt("No login for 90 days."),
}
AUDIT_LOCK = 0x63726D52  # pg_advisory_xact_lock key of the snapshot's writer ("crmR")


class CrmRightsAudit(models.Model):
    _name = "crm.rights.audit"
    _description = "CRM Rights Audit"
    _order = "flagged desc, role_sequence, user_name"
    _rec_name = "user_id"

    user_id = fields.Many2one("res.users", readonly=True, ondelete="cascade")
    user_name = fields.Char(string="Name", readonly=True)
    login = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    active = fields.Boolean(readonly=True, default=True)
    role = fields.Selection([(code, name) for code, name, _group in ROLES], readonly=True)
    role_sequence = fields.Integer(readonly=True)
    roles = fields.Char(string="All Roles", readonly=True)
    governed = fields.Boolean(
        string="Under the Role Matrix",
        readonly=True,
        help="The role matrix applies to the user (a role of its own, or the company applies "
        "it to Odoo's Sales groups).",
    )
    settings = fields.Boolean(readonly=True)
    technical = fields.Boolean(string="Access Rights", readonly=True)
    export = fields.Boolean(readonly=True)
    contact_deletion = fields.Boolean(readonly=True)
    multi_company = fields.Boolean(string="Several Companies", readonly=True)
    temporary_end = fields.Datetime(string="Temporary Access Until", readonly=True)
    temporary_access = fields.Char(readonly=True)
    last_login = fields.Datetime(readonly=True)
    logins_30_days = fields.Integer(string="Logins (30 Days)", readonly=True)
    flagged = fields.Boolean(readonly=True, index=True)
    flag_codes = fields.Char(readonly=True)
    flag_reasons = fields.Text(readonly=True, help="In the language of whoever audited.")
    date = fields.Datetime(string="Audited On", readonly=True)

    _one_per_user = models.UniqueIndex("(user_id)", "The rights audit has one row per user.")

    # ------------------------------------------------------------
    # The snapshot (its one writer)
    # ------------------------------------------------------------

    @api.model
    def _refresh(self):
        """Rebuild the audit of every internal user (archived ones too, flagged when they
        still hold a temporary access): one row each. As the system: the audit reads every
        user's groups and logins (a CRM administrator is no Settings administrator)."""
        # sudo: the audit's own snapshot, computed from users, groups and logs only
        Audit = self.sudo()
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", AUDIT_LOCK))
        # sudo: every internal user, archived ones too (the audit's subject)
        users = (
            self.env["res.users"]
            .sudo()
            .with_context(active_test=False)
            .search([("share", "=", False), ("id", "!=", self.env.ref("base.user_root").id)])
        )
        now = fields.Datetime.now()
        logins = self._logins(users, now)
        accesses = self._temporary_accesses(users, now)
        labels = dict(self._fields["role"]._description_selection(self.env))
        values = [
            self._audit_values(
                user, now, logins.get(user.id, (False, 0)), accesses.get(user.id), labels
            )
            for user in users
        ]
        # one row per internal user (hundreds, not leads), updated in place: two refreshes
        # at once serialize on the lock, then on the rows (one row per user: UNIQUE)
        every_row = Audit.with_context(active_test=False).search([])  # pylint: disable=no-search-all
        rows = {row.user_id.id: row for row in every_row}
        kept, to_create = Audit, []
        for vals in values:
            row = rows.pop(vals["user_id"], None)
            if row:
                row.write(vals)
                kept |= row
            else:
                to_create.append(vals)
        for row in rows.values():  # no longer an internal user
            row.unlink()
        return kept | Audit.create(to_create)

    @api.model
    def _logins(self, users, now):
        """{user id: (last login, logins in the last 30 days)}: the last login from Odoo's
        login log (its autovacuum keeps each user's last one), the logins from the sessions
        first seen in the last 30 days (``res.device.log``: one row kept per session)."""
        # sudo: the logs of every user's logins and sessions (Odoo shows each their own)
        last = dict(
            self.env["res.users.log"]
            .sudo()
            ._read_group([("create_uid", "in", users.ids)], ["create_uid"], ["create_date:max"])
        )
        # sudo: as above
        sessions = dict(
            self.env["res.device.log"]
            .sudo()
            ._read_group(
                [("user_id", "in", users.ids), ("first_activity", ">=", now - timedelta(days=30))],
                ["user_id"],
                ["session_identifier:count_distinct"],
            )
        )
        return {
            user.id: (last.get(user, False), sessions.get(user, 0))
            for user in set(last) | set(sessions)
        }

    @api.model
    def _temporary_accesses(self, users, now):
        """{user id: [approved requests running now]}."""
        # sudo: every user's approved temporary accesses
        requests = (
            self.env["crm.access.request"]
            .sudo()
            .search(
                [
                    ("user_id", "in", users.ids),
                    ("state", "=", "approved"),
                    ("date_end", ">", now),
                ]
            )
        )
        result = defaultdict(list)
        for request in requests:
            result[request.user_id.id].append(request)
        return result

    @api.model
    def _audit_values(self, user, now, logins, requests, labels):
        codes = [code for code, _name, group in ROLES if user._has_group(group)]
        role = codes[0] if codes else False
        powers = {name: user._has_group(group) for name, group in POWERS.items()}
        powers["multi_company"] = powers["multi_company"] and len(user.company_ids) > 1
        governed = user.with_user(user).sudo(False)._crm_regulation_governed()
        last_login, logins_30_days = logins
        flags = self._flags(user, codes, powers, governed, last_login, now, requests)
        requests = requests or []
        return {
            "user_id": user.id,
            "user_name": user.name,
            "login": user.login,
            "company_id": user.company_id.id,
            "active": user.active,
            "role": role,
            "role_sequence": list(labels).index(role) if role else len(labels),
            "roles": ", ".join(labels[code] for code in codes),
            "governed": governed,
            **powers,
            "temporary_end": max((r.date_end for r in requests), default=False),
            "temporary_access": ", ".join(r.display_name for r in requests),
            "last_login": last_login,
            "logins_30_days": logins_30_days,
            "flagged": bool(flags),
            "flag_codes": ",".join(flags),
            "flag_reasons": "\n".join(self.env._(FLAGS[code]) for code in flags),
            "date": now,
        }

    @api.model
    def _flags(self, user, codes, powers, governed, last_login, now, requests):
        """Why the user's rights exceed their role: FLAGS codes (empty: they do not)."""
        admin = "crm_admin" in codes
        manager = any(code in MANAGER_ROLES for code in codes)
        conditions = {
            "settings": powers["settings"] and not admin,
            "technical": powers["technical"] and not admin,
            "export": powers["export"] and not manager,
            "contact_deletion": (
                powers["contact_deletion"] and not manager and not governed and bool(codes)
            ),
            "multi_company": powers["multi_company"] and not manager,
            "odoo_all": "odoo_all" in codes and not manager,
            "odoo_manager": "odoo_manager" in codes and not admin,
            "mixed_roles": any(c in SALES_ROLES for c in codes)
            and any(c in READER_ROLES for c in codes),
            "archived_access": bool(requests) and not user.active,
            "dormant": bool(codes)
            and user.active
            and (not last_login or last_login < now - timedelta(days=DORMANT_DAYS)),
        }
        return [code for code in FLAGS if conditions[code]]

    def _reasons(self):
        """The reasons of the row's flags, in the environment's language."""
        self.ensure_one()
        return [self.env._(FLAGS[code]) for code in (self.flag_codes or "").split(",") if code]

    # ------------------------------------------------------------
    # The menu, the print-out and the monthly e-mail
    # ------------------------------------------------------------

    @api.model
    def action_open(self):
        """CRM > Configuration > Rights Audit: the audit as of now (CRM administrators:
        the model's access rights)."""
        self.check_access("read")
        self._refresh()
        return self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_rights_audit_action"
        )

    @api.model
    def _cron_send_flags(self):
        """Once a month, the flagged users to the CRM administrators of each company (their
        language). A company's row is locked while it is sent and the month recorded with
        it: a rerun, or a second worker, sends nothing twice."""
        month = fields.Date.today().replace(day=1)
        Company = self.env["res.company"]
        todo = Company.search(
            ["|", ("crm_rights_audit_month", "=", False), ("crm_rights_audit_month", "<", month)]
        )
        if not todo:
            return True
        self._refresh()
        self.env["ir.cron"]._commit_progress(remaining=len(todo))
        for company in todo:
            company = company.try_lock_for_update(allow_referencing=True).filtered(
                lambda c: not c.crm_rights_audit_month or c.crm_rights_audit_month < month
            )
            if company:
                company._crm_rights_audit_send()
                company.crm_rights_audit_month = month
            if not self.env["ir.cron"]._commit_progress(1):
                break
        return True

    def _mail_body(self):
        """The flagged rows as an HTML table (the e-mail)."""
        header = (
            self.env._("User"),
            self.env._("Role"),
            self.env._("Why"),
            self.env._("Last Login"),
        )
        rows = Markup("").join(
            Markup("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>")
            % (
                row.user_name,
                row.roles or "",
                Markup("<br/>").join(escape(reason) for reason in row._reasons()),
                fields.Datetime.to_string(row.last_login)
                if row.last_login
                else self.env._("never"),
            )
            for row in self
        )
        head = Markup("").join(Markup("<th>%s</th>") % title for title in header)
        return Markup(
            "<p>%s</p><table border='1' cellpadding='4' style='border-collapse:collapse'>"
            "<tr>%s</tr>%s</table><p>%s</p>"
        ) % (
            self.env._("These users hold more rights than their CRM role gives:"),
            head,
            rows,
            self.env._("CRM > Configuration > Rights Audit shows every user."),
        )
