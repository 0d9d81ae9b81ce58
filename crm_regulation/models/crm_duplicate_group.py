"""The duplicate sweep's review queue: groups of open leads, and of active contacts, that share
a normalized phone, e-mail or company name in one company. The groups are filled by the
sweep (``crm_duplicate_sweep.py``) as superuser; heads of sales (their teams) and sales
administrators (all) merge them with Odoo's merge wizards, as themselves, or dismiss them."""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

# res_model -> (Odoo model, member field)
MEMBERS = {"lead": ("crm.lead", "lead_ids"), "contact": ("res.partner", "partner_ids")}


class CrmDuplicateGroup(models.Model):
    _name = "crm.duplicate.group"
    _description = "Duplicates to Review"
    _order = "member_count desc, id"
    _rec_name = "key_value"

    # (no index of their own on company and state: the unique index of the keys serves the
    # sweep, the team's the queue; every index slows the sweep's inserts)
    company_id = fields.Many2one("res.company", readonly=True)
    team_id = fields.Many2one(
        "crm.team",
        string="Sales Team",
        readonly=True,
        index="btree_not_null",
        help="Leads: the team of the oldest lead of the group (that has one). Contacts: the "
        "team of their salesperson.",
    )
    res_model = fields.Selection(
        [("lead", "Leads"), ("contact", "Contacts")],
        string="Of",
        required=True,
        readonly=True,
    )
    key_type = fields.Selection(
        [("phone", "Phone"), ("email", "E-mail Address"), ("company_name", "Company Name")],
        string="Shared",
        required=True,
        readonly=True,
    )
    key_value = fields.Char(
        string="Shared Value",
        required=True,
        readonly=True,
        help="The normalized value the members share: the phone in E.164 form, the e-mail in "
        "lower case, the company name without its legal form, quotes and case.",
    )
    lead_ids = fields.Many2many(
        "crm.lead",
        "crm_duplicate_group_lead_rel",
        "group_id",
        "lead_id",
        string="Leads",
        readonly=True,
    )
    partner_ids = fields.Many2many(
        "res.partner",
        "crm_duplicate_group_partner_rel",
        "group_id",
        "partner_id",
        string="Contacts",
        readonly=True,
    )
    member_count = fields.Integer(string="Members", readonly=True, aggregator="sum")
    signature = fields.Char(
        readonly=True,
        help="A digest of the member ids: a dismissed group comes back when it changes.",
    )
    state = fields.Selection(
        [("to_review", "To Review"), ("dismissed", "Dismissed"), ("merged", "Merged")],
        required=True,
        default="to_review",
        readonly=True,
    )
    sweep_run = fields.Integer(
        string="Found by Pass",
        readonly=True,
        help="The pass of the duplicate sweep that found the group with its current members.",
    )
    date_found = fields.Datetime(
        string="Found On",
        readonly=True,
        help="When the duplicate sweep found the group with its current members (each pass "
        "finds it again; it leaves the queue once its members are no longer duplicates).",
    )
    dismissed_by_id = fields.Many2one("res.users", readonly=True)
    dismissed_date = fields.Datetime(string="Dismissed On", readonly=True)
    merged_by_id = fields.Many2one("res.users", readonly=True)
    merged_date = fields.Datetime(string="Merged On", readonly=True)

    _key_unique = models.UniqueIndex(
        "(res_model, key_type, key_value, company_id) NULLS NOT DISTINCT",
        "One group per shared value, kind of record and company.",
    )

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.depends("key_type", "key_value", "member_count", "res_model")
    def _compute_display_name(self):
        kinds = dict(self._fields["key_type"]._description_selection(self.env))
        for group in self:
            group.display_name = self.env._(
                "%(kind)s %(value)s (%(count)s %(records)s)",
                kind=kinds.get(group.key_type, ""),
                value=group.key_value or "",
                count=group.member_count,
                records=self.env._("leads")
                if group.res_model == "lead"
                else self.env._("contacts"),
            )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(self.env._("Duplicate groups are made by the duplicate sweep only."))
        return super().create(vals_list)

    def write(self, vals):
        # members, keys and signatures are the sweep's, the review's state and who did it
        # the buttons' (both as superuser): nobody writes them by hand, or over RPC
        if not self.env.su:
            raise AccessError(
                self.env._(
                    "Duplicate groups are reviewed with their buttons only (merge, dismiss)."
                )
            )
        return super().write(vals)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _members(self):
        """The members the user reads that may still be merged: open leads, active
        contacts."""
        self.ensure_one()
        if self.res_model == "lead":
            return self.lead_ids.filtered(lambda lead: lead.active and lead.won_status == "pending")
        return self.partner_ids.filtered("active")

    def action_merge(self):
        """Odoo's merge wizard of the group's records, prefilled, opened as the user (its
        own rules and the role matrix's apply when it merges)."""
        self.ensure_one()
        self.check_access("write")
        if self.state != "to_review":
            raise UserError(self.env._("Only groups to review are merged."))
        members = self._members()
        if len(members) < 2:
            raise UserError(
                self.env._(
                    "Fewer than two records of this group are left to merge (or readable "
                    "for you): dismiss it, or wait for the next sweep."
                )
            )
        model, _fname = MEMBERS[self.res_model]
        context = {
            "active_model": model,
            "active_ids": members.ids,
            "active_id": members[:1].id,
            "default_crm_duplicate_group_id": self.id,
        }
        wizard = (
            "crm.merge.opportunity"
            if self.res_model == "lead"
            else "base.partner.merge.automatic.wizard"
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Merge"),
            "res_model": wizard,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": context,
        }

    def action_dismiss(self):
        self.check_access("write")
        # sudo: fixed review values on groups the user may write (checked above)
        self.sudo().write(
            {
                "state": "dismissed",
                "dismissed_by_id": self.env.uid,
                "dismissed_date": fields.Datetime.now(),
            }
        )
        return True

    def action_restore(self):
        self.check_access("write")
        # sudo: as action_dismiss
        self.sudo().write({"state": "to_review", "dismissed_by_id": False, "dismissed_date": False})
        return True

    def action_open_members(self):
        self.ensure_one()
        model, fname = MEMBERS[self.res_model]
        return {
            "type": "ir.actions.act_window",
            "name": self.display_name,
            "res_model": model,
            "view_mode": "list,form",
            "domain": [("id", "in", self[fname].ids)],
            "context": {"active_test": False},
        }

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _mark_merged(self, res_model, records):
        """The merge wizard of ``res_model`` merged ``records`` (ids) from this group: the
        group is marked merged (checked before the merge: ``_check_mergeable``)."""
        group = self.filtered(lambda g: g.res_model == res_model)
        if not group:
            return
        _model, fname = MEMBERS[res_model]
        if not set(records) & set(group[fname].ids):
            return  # not this group's records
        # sudo: fixed review values on a group the user may write (_check_mergeable)
        group.sudo().write(
            {"state": "merged", "merged_by_id": self.env.uid, "merged_date": fields.Datetime.now()}
        )

    def _check_mergeable(self):
        """Merging from the queue is for those who review the group (before merging)."""
        if self:
            self.check_access("write")
