"""The role matrix on leads: visibility scopes, sensitive fields, reassignment and export."""

from lxml import etree
from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.fields import Command

from .caller_values import ids_commands
from .cursor_flags import MERGED, READER_PROFILES, flagged, flags
from .res_users import ALL_LEADS_GROUP, MANAGER_GROUPS

# Sensitive fields: hidden from the Marketer and Support roles (read for the Accountant,
# read/write as the record rules allow for the sales roles). The won criteria fields of the
# regulation and the fields listed in the CRM settings are added to these.
SENSITIVE_FIELDS = frozenset(
    {
        "expected_revenue",
        "prorated_revenue",
        "recurring_revenue",
        "recurring_revenue_monthly",
        "recurring_revenue_monthly_prorated",
        "recurring_revenue_prorated",
        "recurring_plan",
        "probability",
        "automated_probability",
        "description",
        "contract_signed",
        "contract_date",
        "first_payment_date",
    }
)
# A lead's contact data: hidden from the Marketer, who sees leads as figures (name, stage,
# source, campaign, tags, outcome, reasons); the contacts of the leads in revival show on
# their enrollment (crm_revival.py).
CONTACT_FIELDS = frozenset(
    {
        "partner_id",
        "commercial_partner_id",
        "contact_name",
        "partner_name",
        "title",
        "function",
        "email_from",
        "email_normalized",
        "email_cc",
        "email_domain_criterion",
        "email_state",
        "phone",
        "phone_sanitized",
        "phone_state",
        "mobile",
        "website",
        "street",
        "street2",
        "zip",
        "city",
        "state_id",
        "partner_email_update",
        "partner_phone_update",
        "phone_mobile_search",
        "phone_invalid",
        "legal_form",
        "company_key",
        "message_partner_ids",
        "duplicate_lead_ids",
    }
)
# the contacts a lead names (a caller names only contacts they may read: res_partner.py)
PARTNER_FIELDS = ("partner_id", "commercial_partner_id")
# the internal notes: hidden from the Accountant, who reads the financial side of deals
INTERNAL_FIELDS = frozenset({"description"})
# what the roles outside the sales hierarchy may edit on a lead
MARKETER_FIELDS = frozenset({"campaign_id", "medium_id", "source_id"})
ACCOUNTANT_FIELDS = frozenset({"contract_signed", "contract_date", "first_payment_date"})
# {registry class of crm.lead: (its bases, the _has_field_access after this module's)} (a
# registry reload makes new classes: a few entries per reload in a process)
_NEXT_FIELD_ACCESS = {}
NO_PROFILES = {}
READER_VIEWS = {
    "form": "crm_regulation.crm_lead_view_form_reader",
    "list": "crm_regulation.crm_lead_view_list_reader",
    "kanban": "crm_regulation.crm_lead_view_kanban_reader",
    "search": "crm_regulation.crm_lead_view_search_reader",
}


# the role matrix's part of crm.lead, kept apart from the regulation engine
class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.regulation.scope.mixin"]  # pylint: disable=consider-merging-classes-inherited

    regulation_scope = fields.Selection(
        [
            ("own", "Own leads"),
            ("team", "Leads of the own teams"),
            ("subteams", "Leads of the own teams and sub-teams"),
            ("marketer", "All leads (marketing)"),
            ("support", "Won leads"),
            ("accountant", "All leads (accounting)"),
            ("granted_read", "Temporary access (read)"),
            ("granted_write", "Temporary access (edit)"),
            ("readable", "Every lead the user may read"),
        ],
        string="Visibility Scope",
        compute="_compute_regulation_scope",
        search="_search_regulation_scope",
        help="Technical: the record rules of the role matrix search on it.",
    )

    def _compute_regulation_scope(self):
        self.regulation_scope = False

    def _search_regulation_scope(self, operator, value):
        if operator not in ("in", "="):
            return NotImplemented
        value = [value] if operator == "=" else value
        Users = self.env["res.users"]
        return fields.Domain.OR(Users._crm_regulation_domain(name) for name in value)

    # ------------------------------------------------------------
    # Roles of the current user
    # ------------------------------------------------------------

    def _regulation_is_manager(self):
        """Head of sales and above (Odoo's sales administrators included); a temporary
        head of sales until the end of the access."""
        return self.env["res.users"]._crm_regulation_holds(MANAGER_GROUPS)

    def _regulation_reader_roles(self):
        """The roles outside the sales hierarchy the user holds, when they hold no sales
        role: those see the reader views and the field limits below. Called on every field
        read of a lead (``_has_field_access``): one cache lookup."""
        if self.env.su:
            return frozenset()
        sales_end, readers = self._regulation_reader_profile()
        # a temporary sales role stops counting at its end, like its scope
        if sales_end is None or (sales_end is not False and sales_end > fields.Datetime.now()):
            return frozenset()
        return readers

    def _regulation_reader_profile(self):
        """``res.users._crm_regulation_reader_profile``, kept on the cursor per user for the
        transaction, while this thread clears no cache (a role, team or access request
        changed in this transaction: the cache itself is asked then; a role change in any
        thread sharing the cursor empties it). Role end dates are compared at each call."""
        env = self.env
        memo = flags(env, READER_PROFILES)
        if "default" in env.registry.cache_invalidated:
            memo.clear()
            return env["res.users"]._crm_regulation_reader_profile()
        profile = memo.get(env.uid)
        if profile is None:
            if not memo:
                # for this transaction only: a cursor that commits and goes on (a cron's
                # next run) sees the roles other workers changed in the meantime
                env.cr.postcommit.add(memo.clear)
                env.cr.postrollback.add(memo.clear)
            profile = memo[env.uid] = env["res.users"]._crm_regulation_reader_profile()
        return profile

    @api.model
    @tools.ormcache("self.env.company.id")
    def _regulation_sensitive_fields(self):
        """The sensitive fields: the fixed ones, the won criteria of the regulation and
        those listed in the settings."""
        names = set(SENSITIVE_FIELDS)
        for rule in self.env["crm.regulation.rule"]._get_regulation().rules:
            if rule.target != "won":
                continue
            names.update(rule.field_names)
            if rule.required is not None:
                names.update(
                    cond.field_expr.split(".")[0] for cond in rule.required.iter_conditions()
                )
        # sudo: the company's setting, whoever reads leads
        names.update(self.env.company.sudo().crm_sensitive_field_ids.mapped("name"))
        return frozenset(name for name in names if name in self._fields)

    def _regulation_sensitive_hidden(self):
        """Whether the current user's roles hide the sensitive fields (Marketer, Support;
        the Accountant reads them)."""
        readers = self._regulation_reader_roles()
        return bool(readers) and "accountant" not in readers

    def _regulation_hidden_by(self, role, name):
        """Whether the reader role ``role`` hides the field ``name`` of leads."""
        if role == "accountant":
            return name in INTERNAL_FIELDS
        if role == "marketer" and name in CONTACT_FIELDS:
            return True
        return name in self._regulation_sensitive_fields()

    def _regulation_field_refused(self, field, operation):
        """Whether the role matrix refuses ``field`` to the current user (the roles add
        up: a field is hidden when each reader role held hides it)."""
        if self.env.su or field.model_name != self._name:
            return False
        readers = self._regulation_reader_roles()
        if not readers:
            return False
        if operation == "read":
            return all(self._regulation_hidden_by(role, field.name) for role in readers)
        allowed = set()
        if "marketer" in readers:
            allowed |= MARKETER_FIELDS
        if "accountant" in readers:
            allowed |= ACCOUNTANT_FIELDS
        return field.name not in allowed

    def _has_field_access(self, field, operation):
        # Every field read of a lead comes here (Field.__get__: about 30 per lead of a stage
        # move), so this is the hot path of the role matrix: the next implementation is
        # looked up once per registry class (``super()`` walks the 40-odd classes of
        # crm.lead at each call), and a user known in this cursor to hold a sales role for
        # good is refused nothing after two dict lookups.
        cls = type(self)
        bases, parent = _NEXT_FIELD_ACCESS.get(cls, (None, None))
        if bases is not cls.__bases__:  # new, or the class got other parents (module load)
            parent = super()._has_field_access.__func__
            _NEXT_FIELD_ACCESS[cls] = (cls.__bases__, parent)
        if not parent(self, field, operation):
            return False
        env = self.env
        profile = env.cr.cache.get(READER_PROFILES, NO_PROFILES).get(env.uid)
        if profile is not None and profile.sales_end is None and not env.registry.cache_invalidated:
            return True
        return not self._regulation_field_refused(field, operation)

    @api.model
    def _check_field_access(self, field, operation):
        if self._regulation_field_refused(field, operation):
            # Odoo's own message expects field groups
            raise AccessError(
                self.env._(
                    "Your role cannot %(operation)s the field “%(field)s” of leads.",
                    operation=self.env._("change") if operation == "write" else self.env._("see"),
                    field=field._description_string(self.env),
                )
            )
        return super()._check_field_access(field, operation)

    def _message_get_suggested_recipients(self, *args, **kwargs):
        # the chatter's composer suggests the customer: not to a role without contact data
        if self._regulation_field_refused(self._fields["email_from"], "read"):
            return []
        return super()._message_get_suggested_recipients(*args, **kwargs)

    @api.model
    def get_view(self, view_id=None, view_type="form", **options):
        # Marketer, Support and Accountant see leads in views made for reading: the
        # standard ones show sensitive fields and sales actions everywhere
        if not self._regulation_reader_roles():
            return super().get_view(view_id, view_type, **options)
        if view_type in READER_VIEWS:
            view_id = self.env.ref(READER_VIEWS[view_type]).id
        result = super().get_view(view_id, view_type, **options)
        # the fields the roles hold refused are not in any view (the web client knows the
        # fields of ``fields_get`` only: Odoo's calendar and activity views name some)
        arch = etree.fromstring(result["arch"])
        refused = False
        for node in arch.xpath("//field[@name]"):
            field = self._fields.get(node.get("name"))
            if field and self._regulation_field_refused(field, "read"):
                node.getparent().remove(node)
                refused = True
        if refused:
            result = {**result, "arch": etree.tostring(arch, encoding="unicode")}
        return result

    # ------------------------------------------------------------
    # Reassignment and export
    # ------------------------------------------------------------

    def _regulation_check_assignment(self, vals_list):
        """Below head of sales, nobody gives a lead to another person or team: a
        salesperson only takes an unassigned lead, or creates one, for themselves and in
        their own teams."""
        if self._regulation_is_manager():
            return
        uid = self.env.uid
        if not self.env["res.users"]._crm_regulation_governed():
            # Odoo's own rights: a salesperson reassigns what Odoo lets them edit; a lead of
            # someone else reached through a temporary access only is not theirs to keep
            if self.env.user.has_group(ALL_LEADS_GROUP):
                return
            vals_list = [
                (lead, vals)
                for lead, vals in vals_list
                if lead and lead.user_id and lead.user_id.id != uid
            ]
            if not vals_list:
                return
        own_teams = set(self.env["res.users"]._crm_regulation_scope().team_ids)
        for lead, vals in vals_list:
            if "user_id" in vals:
                new_user = vals["user_id"] or False
                old_user = lead.user_id.id if lead else False
                if (
                    new_user != old_user
                    and not (new_user == uid and not old_user)
                    and (lead or new_user)
                ):
                    raise AccessError(self._regulation_assignment_error(lead))
            if "team_id" in vals:
                new_team = vals["team_id"] or False
                old_team = lead.team_id.id if lead else False
                if new_team != old_team and not (not old_team and new_team in own_teams):
                    raise AccessError(self._regulation_assignment_error(lead))

    def _regulation_assignment_error(self, lead):
        return self.env._(
            "Only the head of sales reassigns leads to another salesperson or team%(lead)s. "
            "Ask them, or request temporary access (CRM > Sales > Access Requests).",
            lead=self.env._(" (“%s”)", lead.display_name) if lead else "",
        )

    def _regulation_followers_by_id(self, vals):
        """Under the role matrix, followers are named by id: Odoo applies the other
        commands of ``message_partner_ids`` to the contacts with more rights than the
        caller's (a colleague's customer renamed through one's own lead). A list of ids, a
        recordset or False keep Odoo's meaning (set, clear)."""
        value = vals.get("message_partner_ids")
        if "message_partner_ids" not in vals or isinstance(value, models.BaseModel) or not value:
            return vals
        if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            commands = [Command.set(list(value))]
        else:
            commands = ids_commands(self.env, "message_partner_ids", value)
        return {**vals, "message_partner_ids": commands}

    def message_subscribe(self, partner_ids=None, subtype_ids=None):
        # the followers a user adds are contacts they may read (a follower's address shows
        # to whoever reads the lead's followers)
        if partner_ids and self.env["res.users"]._crm_regulation_governed():
            self.env["res.partner"]._crm_regulation_check_readable(partner_ids)
        return super().message_subscribe(partner_ids=partner_ids, subtype_ids=subtype_ids)

    def _search_phone_mobile_search(self, operator, value):
        # the search of phone numbers reads the phone: not a way around the field's access
        self._check_field_access(self._fields["phone"], "read")
        return super()._search_phone_mobile_search(operator, value)

    @api.model_create_multi
    def create(self, vals_list):
        Partner = self.env["res.partner"]
        if self.env["res.users"]._crm_regulation_governed():
            vals_list = [self._regulation_followers_by_id(vals) for vals in vals_list]
            # the customers named, by the values or the context's defaults
            Partner._crm_regulation_check_readable(
                Partner._crm_regulation_named(self.env.context, vals_list, PARTNER_FIELDS)
            )
        if not self.env.su:
            self._regulation_check_assignment([(self.browse(), vals) for vals in vals_list])
        leads = super().create(vals_list)
        Partner._crm_regulation_contacts_changed()
        return leads

    def write(self, vals):
        if self.env["res.users"]._crm_regulation_governed():
            vals = self._regulation_followers_by_id(vals)
            Partner = self.env["res.partner"]
            Partner._crm_regulation_check_readable(
                Partner._crm_regulation_named({}, [vals], PARTNER_FIELDS)
            )
        if not self.env.su and {"user_id", "team_id"}.intersection(vals):
            self._regulation_check_assignment([(lead, vals) for lead in self])
        result = super().write(vals)
        self.env["res.partner"]._crm_regulation_contacts_changed()
        return result

    def onchange(self, values, field_names, fields_spec):
        # the form's onchange copies the customer's phone, e-mail and address onto the lead:
        # a customer named there is one the user reads, as in create and write
        if self.env["res.users"]._crm_regulation_governed():
            Partner = self.env["res.partner"]
            Partner._crm_regulation_check_readable(
                Partner._crm_regulation_named({}, [values], PARTNER_FIELDS)
            )
        return super().onchange(values, field_names, fields_spec)

    def export_data(self, fields_to_export):
        if self.env["res.users"]._crm_regulation_governed() and not self._regulation_is_manager():
            raise AccessError(
                self.env._("Only the head of sales and CRM administrators export leads.")
            )
        return super().export_data(fields_to_export)

    # ------------------------------------------------------------
    # Merge: Odoo moves the merged leads' messages and deletes the leads as superuser
    # ------------------------------------------------------------

    def _merge_opportunity(self, user_id=False, team_id=False, auto_unlink=True, max_length=5):
        """Merging needs the right to edit every merged lead (it takes their messages and
        documents). Below those who may delete leads, the merged leads are archived with a
        link to the lead they went into instead of deleted (``unlink`` below: Odoo's merge
        and its convert wizard delete them as superuser)."""
        if not self.env.su:
            self.check_access("write")
        governed = self.env["res.users"]._crm_regulation_governed()
        head = super()._merge_opportunity(
            user_id=user_id, team_id=team_id, auto_unlink=False, max_length=max_length
        )
        tails = self - head
        if governed and not tails.has_access("unlink"):
            # merges by users who may not delete leads: Odoo deletes the tails as superuser
            flags(self.env, MERGED).update(dict.fromkeys(tails.ids, head.id))
        if auto_unlink:
            tails.sudo().unlink()  # sudo: as Odoo's merge (kept by unlink below when refused)
        return head

    def _merge_dependences(self, opportunities):
        # sudo: the merged leads' tasks (everyone's, escalations too) go to the kept lead
        # with them, as the system; the merge checked the user's right to edit every lead
        opportunities.sudo().activity_ids.write({"res_id": self.id})
        return super()._merge_dependences(opportunities)

    def unlink(self):
        merged = flagged(self.env, MERGED)
        kept = self.browse(lead_id for lead_id in self.ids if lead_id in merged)
        if kept:
            # archived as the user who merged (who may edit them: checked at the merge), so
            # that the regulation judges the archive with their eyes, not the superuser's
            kept.sudo(False)._regulation_archive_merged(
                {lead_id: merged.pop(lead_id) for lead_id in kept.ids}
            )
        rest = self - kept
        return super(CrmLead, rest).unlink() if rest else True

    def _regulation_archive_merged(self, heads):
        """Archive merged leads ({lead id: lead it went into}), linked to that lead; a lead
        at 0 % is closed as a duplicate (archiving it makes it lost)."""
        duplicate = self.env.ref("crm_regulation.lost_reason_duplicate", raise_if_not_found=False)
        by_head = {}
        for lead_id in self.ids:
            by_head.setdefault(heads[lead_id], []).append(lead_id)
        for head_id, lead_ids in by_head.items():
            leads = self.browse(lead_ids).with_context(active_test=False)
            values = {"active": False, "duplicate_of_id": head_id}
            lost = leads.filtered(lambda lead: not lead.probability) if duplicate else leads[:0]
            if lost:
                lost.write({**values, "lost_reason_id": duplicate.id})
            if leads - lost:
                (leads - lost).write(values)
            link = self.browse(head_id)._get_html_link()
            body = Markup(self.env._("Merged into %s and archived.")) % link
            leads._message_log_batch(bodies=dict.fromkeys(leads.ids, body))

    # ------------------------------------------------------------
    # Notifications: the trackings of sensitive fields never reach a reader role
    # ------------------------------------------------------------

    def _notify_get_recipients_groups(self, message, model_description, msg_vals=False):
        """Odoo renders the trackings of a notification email in the author's rights: the
        recipients who may not read a tracked sensitive field (Marketer, Support, a
        follower who may not read the lead) get their own group, whose email leaves those
        trackings out (the inbox and the chatter already filter them in the reader's own
        rights: ``_has_field_access``)."""
        groups = super()._notify_get_recipients_groups(
            message, model_description, msg_vals=msg_vals
        )
        if not message or (msg_vals and not msg_vals.get("tracking_value_ids", True)):
            return groups  # no tracking to filter (Odoo's own test for its rendering)
        # sudo: tracking values are an admin-only model; what is shown is filtered here
        trackings = message.sudo().tracking_value_ids.with_context(lang=self.env.lang)
        sensitive = self._regulation_sensitive_fields()
        hidden = trackings.filtered(
            lambda t: t.field_id.model == self._name and t.field_id.name in sensitive
        )
        if not hidden:
            return groups
        names = set(hidden.field_id.mapped("name"))
        may_read = {}

        def hides(pdata):
            """The recipient may not read the lead or one of the hidden fields."""
            uid = pdata["uid"]
            if pdata["type"] != "user" or not uid:
                return False
            if uid not in may_read:
                lead = self.with_user(uid)
                may_read[uid] = lead.has_access("read") and all(
                    lead._has_field_access(self._fields[name], "read") for name in names
                )
            return not may_read[uid]

        shown = (trackings - hidden)._filter_has_field_access(self.env)
        reader_group = [
            "crm_regulation_reader",
            hides,
            {
                **next(data for name, _func, data in groups if name == "user"),
                "tracking_values": [
                    (fmt["fieldInfo"]["changedField"], fmt["oldValue"], fmt["newValue"])
                    for fmt in shown._tracking_value_format()
                ],
            },
        ]
        return [reader_group, *groups]
