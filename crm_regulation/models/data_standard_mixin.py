"""The data standard on entry, shared by leads and contacts: phones in one format (checked,
refused or flagged as the company's or the team's standard says) and company names split
from their legal form. Every entry path goes through create/write: the form, import, the
API and the mail gateway (which never refuses: a customer's e-mail is never dropped).
The functions themselves are in ``data_standard.py``."""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .cursor_flags import MAIL_GATEWAY, flagged
from .data_standard import (
    PHONE_ERRORS,
    PHONE_FLAG,
    PHONE_OFF,
    PHONE_REQUIRED,
    format_phone,
    split_company_name,
)

PHONE_FIELDS = ("phone",)
# kept by the standard and the ORM: a caller's values are dropped (``phone_sanitized`` is
# what duplicates are matched on; the others are split from or computed with the name)
STANDARD_FIELDS = ("legal_form", "company_key", "phone_sanitized")
# errors named in a refusal (the rest are counted)
MAX_ERRORS = 5


class CrmDataStandardMixin(models.AbstractModel):
    _name = "crm.data.standard.mixin"
    _description = "Data Standard of Leads and Contacts"

    legal_form = fields.Char(
        readonly=True,
        help="The legal form split off the company name on entry (CRM > Configuration > "
        "Legal Forms).",
    )
    company_key = fields.Char(
        string="Company Name Key",
        compute="_compute_company_key",
        store=True,
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The company name without its legal form, quotes, case: what duplicates are "
        "matched on.",
    )
    phone_invalid = fields.Boolean(
        string="Phone Not Valid",
        compute="_compute_phone_invalid",
        search="_search_phone_invalid",
        help="The phone could not be read as a valid number of its country: duplicates are "
        "not matched on it. Enter it with + and the country code.",
    )

    # ------------------------------------------------------------
    # What each model says
    # ------------------------------------------------------------

    def _data_standard_company_name(self):
        """The company name of the record ("" when it has none)."""
        raise NotImplementedError

    def _data_standard_values(self, vals):
        """(company, team, country) that the standard applies with to ``self`` (a record,
        or an empty recordset for a new one) once ``vals`` are written."""
        raise NotImplementedError

    # the field holding the company name, and whether ``vals`` make it a company's
    _data_standard_name_field = None

    def _data_standard_is_company(self, vals):
        return True

    def _data_standard_inherited_phone(self, vals):
        """The phone ``vals`` give the record without naming it (a lead's customer's), for
        a required standard to check; "" when none."""
        return ""

    # ------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------

    def _compute_company_key(self):
        keys = self._data_standard_keys()
        for record in self:
            record.company_key = keys[record.id] or False

    def _data_standard_keys(self):
        """{id: the company name's matching key, or None} of ``self`` (the compute, and the
        sweep's backfill of the rows older than the standard)."""
        forms, keys = {}, {}
        for record in self:
            company_id = (record["company_id"] or self.env.company).id
            if company_id not in forms:
                forms[company_id] = self.env["crm.legal.form"]._forms_for(company_id)
            split = split_company_name(record._data_standard_company_name(), forms[company_id])
            keys[record.id] = split.key or None
        return keys

    def _data_standard_unsanitize(self):
        """After Odoo's ``_compute_phone_sanitized`` (the models call it: Odoo's comes first
        in their classes): the E.164 form emptied for a number the standard finds invalid
        where it applies (phonenumbers reads letters as a vanity number: the standard
        refuses them), so that duplicates are never matched on an invalid number and
        ``phone_invalid`` finds it."""
        if not self._data_standard_phone_anywhere():
            return
        for record in self:
            if not record.phone_sanitized or not record.phone:
                continue
            company, team, country = record._data_standard_values({})
            mode, phone_format = self._data_standard_settings(company, team)
            if mode != PHONE_OFF and format_phone(record.phone, country.code, phone_format).error:
                record.phone_sanitized = False

    def _data_standard_onchange_phone(self):
        """The form's phone to the standard as it is typed (Odoo's own onchange, which the
        models call otherwise, reads letters as a vanity number): True when the standard
        applies (an invalid number is left as typed, for the save to refuse or flag)."""
        if not self.phone or not self._data_standard_phone_anywhere():
            return False
        company, team, country = self._data_standard_values({})
        mode, phone_format = self._data_standard_settings(company, team)
        if mode == PHONE_OFF:
            return False
        result = format_phone(self.phone, country.code, phone_format)
        if result.error is None:
            self.phone = result.display
        return True

    @api.depends("phone", "phone_sanitized")
    def _compute_phone_invalid(self):
        for record in self:
            record.phone_invalid = bool(record.phone) and not record.phone_sanitized

    def _search_phone_invalid(self, operator, value):
        if operator != "in":
            return NotImplemented
        invalid = [("phone", "!=", False), ("phone_sanitized", "=", False)]
        return (
            invalid
            if True in value
            else ["|", ("phone", "=", False), ("phone_sanitized", "!=", False)]
        )

    # ------------------------------------------------------------
    # On entry
    # ------------------------------------------------------------

    @api.model
    def _data_standard_country_of(self, partner):
        """The country of ``partner`` as the user reads it (none when they may not)."""
        try:
            return partner.with_env(self.env).country_id
        except AccessError:
            return self.env["res.country"]

    @api.model
    def _data_standard_readable(self, company, team, country):
        """(company, team, country), the company and team as the user reads them: when they
        may not, the standard of their own company (the write refuses them anyway)."""
        if not company.has_access("read") or (team and not team.has_access("read")):
            company, team = self.env.company, self.env["crm.team"]
        return company, team, country or company.country_id

    @api.model
    def _data_standard_phone_anywhere(self):
        """Whether a company or a team applies a phone standard (one query on two small
        tables: the standard is off by default, and then costs nothing more)."""
        self.env["res.company"].flush_model(["crm_phone_standard"])
        self.env["crm.team"].flush_model(["phone_standard"])
        return bool(
            self.env.execute_query(
                SQL(
                    """SELECT 1 FROM res_company WHERE crm_phone_standard IN %(on)s
                       UNION ALL
                       SELECT 1 FROM crm_team WHERE phone_standard IN %(on)s LIMIT 1""",
                    on=(PHONE_FLAG, PHONE_REQUIRED),
                )
            )
        )

    @api.model
    def _data_standard_settings(self, company, team):
        """(phone standard, phone format) of a record of ``company`` and ``team``."""
        mode = company.crm_phone_standard or PHONE_OFF
        if team and team.phone_standard and team.phone_standard != "company":
            mode = team.phone_standard
        return mode, company.crm_phone_format or "regulation"

    def _data_standard_entry(self, vals, phones=None):
        """(the standard's changes to ``vals`` for ``self`` (one record, or none for a new
        one), [the errors refusing it: (number, error code)]). ``phones``: whether a phone
        standard applies anywhere (``_data_standard_phone_anywhere``), asked once by a
        caller that loops over records."""
        changes, errors = {}, []
        name_field = self._data_standard_name_field
        name = vals.get(name_field)
        splits = (
            name_field in vals and isinstance(name, str) and self._data_standard_is_company(vals)
        )
        if phones is None:
            phones = self._data_standard_phone_anywhere()
        if not splits and not phones:
            # (every lead created or written with a phone comes here: no access check,
            # no company read where no company or team applies a phone standard)
            if name_field in vals:
                changes["legal_form"] = False
            return changes, errors
        company, team, country = self._data_standard_values(vals)
        mode, phone_format = self._data_standard_settings(company, team)
        if mode != PHONE_OFF:
            for fname in PHONE_FIELDS:
                number = vals.get(fname)
                if number is None or number is False or number == "":
                    continue
                if not isinstance(number, str):  # a number over RPC: stored as its text
                    number = changes[fname] = str(number)
                result = format_phone(number, country.code, phone_format)
                if result.error is None:
                    if result.display != number:
                        changes[fname] = result.display
                elif mode == PHONE_REQUIRED and not flagged(self.env, MAIL_GATEWAY):
                    errors.append((number, result.error))
            inherited = self._data_standard_inherited_phone(vals)
            if inherited and mode == PHONE_REQUIRED and not flagged(self.env, MAIL_GATEWAY):
                error = format_phone(inherited, country.code, phone_format).error
                if error:
                    errors.append((inherited, error))
        if name_field in vals and not splits:
            changes["legal_form"] = False
        elif splits:
            split = split_company_name(name, self.env["crm.legal.form"]._forms_for(company.id))
            changes["legal_form"] = split.legal_form or False
            if company.crm_company_name_display == "without_form" and split.legal_form:
                changes[name_field] = split.name
        return changes, errors

    @api.model
    def _data_standard_create(self, vals_list):
        """``vals_list`` to the standard; invalid phones under a required standard refused
        (nothing is created)."""
        vals_list = [self._data_standard_caller_vals(vals, new=True) for vals in vals_list]
        if not any(fname in vals for vals in vals_list for fname in self._data_standard_fields()):
            return vals_list
        result, refused = [], []
        phones = self._data_standard_phone_anywhere()
        for vals in vals_list:
            changes, errors = self.browse()._data_standard_entry(vals, phones)
            label = vals.get("name") or vals.get(self._data_standard_name_field) or ""
            refused += [(label, number, code) for number, code in errors]
            result.append({**vals, **changes} if changes else vals)
        self._data_standard_refuse(refused)
        return result

    def _data_standard_write(self, vals):
        """``vals`` to the standard for every record of ``self`` (one value for all: a number
        that reads differently in the records' countries is refused, as are invalid phones
        under a required standard; nothing is written)."""
        vals = self._data_standard_caller_vals(vals)
        if not self or not any(fname in vals for fname in self._data_standard_fields()):
            return vals
        per_record, refused = [], []
        phones = self._data_standard_phone_anywhere()
        for record in self:
            changes, errors = record._data_standard_entry(vals, phones)
            refused += [(record.display_name, number, code) for number, code in errors]
            per_record.append(changes)
        self._data_standard_refuse(refused)
        common = {}
        for fname in set().union(*per_record):
            values = {changes.get(fname, vals.get(fname)) for changes in per_record}
            if len(values) == 1:
                common[fname] = values.pop()
            elif fname in PHONE_FIELDS:
                raise UserError(
                    self.env._(
                        "These records are of different countries or standards, so the "
                        "phone reads differently in each: enter it with + and its country "
                        "code, or edit them one country at a time. Nothing was saved."
                    )
                )
            # else (the legal form of contacts and companies written at once): left as is
        return {**vals, **common}

    def _data_standard_fields(self):
        return (*PHONE_FIELDS, self._data_standard_name_field, "partner_id")

    @api.model
    def _data_standard_caller_vals(self, vals, new=False):
        """The caller's ``vals`` without what the standard keeps itself (superuser's
        kept: upgrades, merges), and for a new record with the context's defaults of the
        fields it checks (applied by the ORM after this, past the standard otherwise)."""
        if not self.env.su and any(fname in vals for fname in STANDARD_FIELDS):
            vals = {key: value for key, value in vals.items() if key not in STANDARD_FIELDS}
        if new:
            context = self.env.context
            defaults = {
                fname: context[f"default_{fname}"]
                for fname in (*PHONE_FIELDS, self._data_standard_name_field)
                if fname not in vals and context.get(f"default_{fname}")
            }
            if defaults:
                vals = {**vals, **defaults}
        return vals

    def _data_standard_refuse(self, refused):
        if not refused:
            return
        lines = [self.env._("The phone standard refuses these numbers:")]
        lines += [
            self.env._(
                "• %(record)s: “%(number)s”: %(reason)s.",
                record=f"“{label}”" if label else self.env._("a new record"),
                number=number,
                reason=self.env._(PHONE_ERRORS[code]),
            )
            for label, number, code in refused[:MAX_ERRORS]
        ]
        if len(refused) > MAX_ERRORS:
            lines.append(self.env._("… and %s more.", len(refused) - MAX_ERRORS))
        lines.append(
            self.env._(
                "Enter Russian numbers as +7 (900) 123-45-67 (8 900 123-45-67 is read the "
                "same way), foreign ones with + and their country code. Nothing was saved."
            )
        )
        raise UserError("\n".join(lines))
