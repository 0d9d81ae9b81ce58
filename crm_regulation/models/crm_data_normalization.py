"""Normalize existing data: existing leads and contacts are never rewritten silently. A CRM
administrator chooses what (phones to the standard, company names split from their legal
form) and where (leads, contacts, both), counts in a dry run what would change, then starts
the normalization. Both are done by a cron in batches (committed per batch, resumable from a
stored cursor, one worker per normalization at a time: a worker takes the normalization's
row lock for each batch); the dry run writes nothing but its counts and examples on the
normalization; the run locks each batch of records, writes only the records whose values
change and logs on each of them one note saying what changed and by which normalization;
untouched records get no write and no message.

One note rather than tracking: contacts track neither their phone nor their name, so a
tracked write would leave no trace on them; a note names the normalization (its log holds
the counts) and says everything that changed in one message per record, written in one
batch (``_message_log_batch``); the write itself is not tracked (``mail_notrack``).

The values come from the data standard of each record's company and team, by the
foundation's functions: ``format_phone`` with ``_data_standard_settings`` for phones (a
number invalid under the standard is left as it is and counted), ``_data_standard_entry``
for company names (the legal form split off, the name without it when the company says
so). A team or company whose phone standard is ``off`` keeps its phones as typed."""

from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain

from .cursor_flags import NORMALIZING, flag
from .data_standard import PHONE_ERRORS, PHONE_OFF, format_phone
from .data_standard_mixin import PHONE_FIELDS

SCOPES = [("leads", "Leads"), ("contacts", "Contacts"), ("both", "Leads and contacts")]
STATES = [
    ("draft", "Draft"),
    ("counting", "Counting"),
    ("counted", "Counted"),
    ("running", "Running"),
    ("done", "Done"),
]
# the states the cron works on: the dry run, the run
BUSY = ("counting", "running")
# the models of each scope, in the order they are processed
SCOPE_MODELS = {
    "leads": ("crm.lead",),
    "contacts": ("res.partner",),
    "both": ("crm.lead", "res.partner"),
}
BATCH_SIZE = 500
# examples kept in the log (changes, invalid numbers)
EXAMPLES = 20
# what the dry run and the run count (the same names for both)
COUNTERS = ("checked", "changed", "phone", "name_split", "invalid")
# what a change of configuration makes stale
SETUP_FIELDS = ("company_id", "scope", "do_phones", "do_names")
# what an administrator sets (the state, counts, cursor and log: the buttons and the cron)
EDITABLE_FIELDS = frozenset({"name", "batch_size", *SETUP_FIELDS})


class CrmDataNormalization(models.Model):
    _name = "crm.data.normalization"
    _description = "Normalization of Existing Data"
    _order = "id desc"

    name = fields.Char(
        required=True,
        default=lambda self: self.env._("Normalization of %s", fields.Date.context_today(self)),
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        help="The leads and contacts of this company (and those of no company) are "
        "normalized, each to its company's or team's standard.",
    )
    scope = fields.Selection(SCOPES, required=True, default="both")
    do_phones = fields.Boolean(
        string="Phones",
        default=True,
        help="Phones to the phone standard of the record's team or company (none where it "
        "is Off); invalid numbers are left as they are and counted.",
    )
    do_names = fields.Boolean(
        string="Company Names",
        default=True,
        help="The legal form split off company names (and the names stored without it "
        "where the company's setting says so).",
    )
    batch_size = fields.Integer(
        string="Records per Batch",
        default=BATCH_SIZE,
        help="Records processed and committed at a time.",
    )
    state = fields.Selection(STATES, required=True, default="draft", readonly=True)
    # the dry run
    dry_date = fields.Datetime(string="Counted On", readonly=True)
    dry_checked = fields.Integer(string="Records Checked (Dry Run)", readonly=True)
    dry_changed = fields.Integer(string="Records to Change", readonly=True)
    dry_phone = fields.Integer(string="Phones to Format", readonly=True)
    dry_name_split = fields.Integer(string="Company Names to Split", readonly=True)
    dry_invalid = fields.Integer(
        string="Invalid Numbers Found",
        readonly=True,
        help="Phones that are not valid numbers under the standard: they stay as they are.",
    )
    # the run
    launched_by_id = fields.Many2one("res.users", string="Started By", readonly=True)
    date_start = fields.Datetime(string="Started On", readonly=True)
    date_done = fields.Datetime(string="Finished On", readonly=True)
    checked = fields.Integer(string="Records Checked", readonly=True)
    changed = fields.Integer(string="Records Changed", readonly=True)
    phone = fields.Integer(string="Phones Formatted", readonly=True)
    name_split = fields.Integer(string="Company Names Split", readonly=True)
    invalid = fields.Integer(
        string="Invalid Numbers Left",
        readonly=True,
        help="Phones that are not valid numbers under the standard, left as they are.",
    )
    # where the run is: the model in progress and the last id done in it
    cursor_model = fields.Char(readonly=True)
    cursor_id = fields.Integer(readonly=True)
    log_changes = fields.Text(
        string="Changes (Examples)", readonly=True, help=f"The first {EXAMPLES} changes."
    )
    log_invalid = fields.Text(
        string="Invalid Numbers (Examples)",
        readonly=True,
        help=f"The first {EXAMPLES} invalid numbers, left as they are.",
    )

    _batch_size_positive = models.Constraint(
        "CHECK (batch_size > 0)", "A batch holds at least one record."
    )

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        self._check_editable(vals_list)
        return super().create(vals_list)

    def _check_editable(self, vals_list):
        if not self.env.su and any(set(vals) - EDITABLE_FIELDS for vals in vals_list):
            raise AccessError(
                self.env._(
                    "A normalization's state, counts and log are kept by its buttons and the "
                    "scheduled action: they cannot be written directly."
                )
            )

    def write(self, vals):
        self._check_editable([vals])
        if any(fname in vals for fname in SETUP_FIELDS):
            if any(run.state in BUSY for run in self):
                raise UserError(
                    self.env._("A normalization at work cannot change what it normalizes.")
                )
            # the counts were of another setup: count again
            vals = {**vals, "state": "draft"}
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_running(self):
        if any(run.state in BUSY for run in self):
            raise UserError(self.env._("A normalization at work cannot be deleted."))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_dry_run(self):
        """Count what the normalization would change: the cron reads the records in
        batches and writes nothing but the counts (and examples) on the normalization."""
        self.check_access("write")
        if any(run.state in BUSY for run in self):
            raise UserError(self.env._("The normalization is at work: stop it first."))
        # sudo: the state and counters the button sets (the access to the runs: checked)
        self.sudo().write({"state": "counting", **self._restart_values("dry_")})
        self.env.ref("crm_regulation.ir_cron_data_normalization")._trigger()
        return True

    def action_normalize(self):
        """Start the normalization counted by the dry run: the cron does it in batches."""
        self.check_access("write")
        if any(run.state != "counted" for run in self):
            raise UserError(
                self.env._("Run the dry run first: the normalization starts from its counts.")
            )
        # sudo: the state and counters the button sets (the access to the runs: checked)
        self.sudo().write(
            {
                "state": "running",
                "launched_by_id": self.env.uid,
                "date_start": fields.Datetime.now(),
                "date_done": False,
                **self._restart_values(""),
            }
        )
        self.env.ref("crm_regulation.ir_cron_data_normalization")._trigger()
        return True

    def action_stop(self):
        """Stop a dry run or a normalization where it is (what is done stays done)."""
        self.check_access("write")
        # sudo: the state the button sets (the access to the runs: checked)
        self.filtered(lambda run: run.state == "counting").sudo().write({"state": "draft"})
        # sudo: the state the button sets (the access to the runs: checked)
        self.filtered(lambda run: run.state == "running").sudo().write(
            {"state": "counted", "date_done": fields.Datetime.now()}
        )
        return True

    @api.model
    def _restart_values(self, prefix):
        """The counters of the dry run (``dry_``) or of the run (``""``) at zero, the
        cursor at the start, the examples empty."""
        return {
            **{f"{prefix}{counter}": 0 for counter in COUNTERS},
            "cursor_model": False,
            "cursor_id": 0,
            "log_changes": False,
            "log_invalid": False,
        }

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_normalize(self, batch_size=None):
        """Every dry run and normalization at work, batch by batch: each batch under the
        lock of its normalization (a second worker skips a normalization in progress and
        takes it over after a commit, from its cursor), committed with the progress."""
        Cron = self.env["ir.cron"]
        for run_id in self.search([("state", "in", list(BUSY))], order="id").ids:
            while True:
                run = self.browse(run_id).try_lock_for_update()
                if not run:
                    break  # another worker has it
                run.invalidate_recordset()  # what the other worker committed
                if run.state not in BUSY:
                    break
                done = run._run_batch(batch_size or run.batch_size)
                if done is None:  # its next records are being edited: in a minute
                    Cron._commit_progress(remaining=0)
                    break
                if not Cron._commit_progress(done, remaining=run._remaining()):
                    return  # the cron's time is up: the next run goes on
                if run.state not in BUSY:
                    break

    def _remaining(self):
        """An estimate of the records left (the dry run's count; 1 while not counted)."""
        if self.state not in BUSY:
            return 0
        if self.state == "counting":
            return 1
        return max(self.dry_checked - self.checked, 1)

    def _run_batch(self, batch_size):
        """One batch of the dry run or the run from its cursor: counted, and in a run the
        records whose values change written and noted; the cursor moved on; finished after
        the last model. The number of records checked (None: the next record is locked by
        a user's edit)."""
        self.ensure_one()
        dry = self.state == "counting"
        prefix = "dry_" if dry else ""
        models_todo = list(self._models())
        model = self.cursor_model if self.cursor_model in models_todo else models_todo[0]
        records = self._next_batch(model, self.cursor_id, batch_size)
        if not records:
            following = models_todo[models_todo.index(model) + 1 :]
            if following:
                self.write({"cursor_model": following[0], "cursor_id": 0})
            elif dry:
                self.write({"state": "counted", "dry_date": fields.Datetime.now()})
            else:
                self.write({"state": "done", "date_done": fields.Datetime.now()})
            return 0
        if not dry:
            # records a user is editing right now: the batch stops before the first of
            # them (taken at the next batch)
            locked = set(records.try_lock_for_update(allow_referencing=True).ids)
            ready = records.browse()
            for record in records:
                if record.id not in locked:
                    break
                ready |= record
            if not ready:
                self.env.ref("crm_regulation.ir_cron_data_normalization")._trigger(
                    fields.Datetime.now() + timedelta(minutes=1)
                )
                return None
            records = ready
            records.invalidate_recordset()  # the values committed before the lock
        plans = self._plan(records)
        counts = dict.fromkeys(COUNTERS, 0)
        self._count(counts, records, plans)
        if not dry:
            self._apply(records, plans)
        changes, invalid = self._in_their_language()._examples(records, plans)
        self.write(
            {
                "cursor_model": model,
                "cursor_id": records[-1].id,
                **{
                    f"{prefix}{counter}": self[f"{prefix}{counter}"] + counts[counter]
                    for counter in COUNTERS
                },
                "log_changes": self._log_more(self.log_changes, changes),
                "log_invalid": self._log_more(self.log_invalid, invalid),
            }
        )
        return len(records)

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    def _models(self):
        return SCOPE_MODELS[self.scope]

    def _next_batch(self, model, cursor, batch_size=None):
        """The next records of ``model`` after id ``cursor`` that the normalization may
        change (as superuser: a CRM administrator normalizes every record of the company,
        archived ones too)."""
        self.ensure_one()
        name_field = self.env[model]._data_standard_name_field
        wanted = []
        if self.do_phones:
            wanted += [Domain(fname, "!=", False) for fname in PHONE_FIELDS]
        if self.do_names:
            names = Domain(name_field, "!=", False)
            if model == "res.partner":  # (the names of companies only)
                names &= Domain("is_company", "=", True)
            wanted.append(names)
        if not wanted:
            return self.env[model].browse()
        domain = (
            Domain("id", ">", cursor)
            & Domain("company_id", "in", [self.company_id.id, False])
            & Domain.OR(wanted)
        )
        # sudo: the administrator's normalization reads every record of the company
        records = (
            self.env[model]
            .sudo()
            .with_company(self.company_id)
            .with_context(active_test=False)
            .search(domain, order="id", limit=batch_size or self.batch_size)
        )
        return records

    def _plan(self, records):
        """{record id: ({field: (old, new)}, invalid phone or None)} of the records whose
        values the standard changes or whose phone it finds invalid."""
        self.ensure_one()
        plans = {}
        name_field = records._data_standard_name_field
        for record in records:
            changes, invalid = {}, None
            company, team, country = record._data_standard_values({})
            if self.do_phones:
                mode, phone_format = record._data_standard_settings(company, team)
                for fname in PHONE_FIELDS if mode != PHONE_OFF else ():
                    number = record[fname]
                    if not number:
                        continue
                    result = format_phone(number, country.code, phone_format)
                    if result.error:
                        invalid = (number, result.error)
                    elif result.display != number:
                        changes[fname] = (number, result.display)
            if self.do_names and record[name_field]:
                entry, _errors = record._data_standard_entry({name_field: record[name_field]})
                for fname, value in entry.items():
                    if (record[fname] or False) != (value or False):
                        changes[fname] = (record[fname] or False, value or False)
            if changes or invalid:
                plans[record.id] = (changes, invalid)
        return plans

    @api.model
    def _count(self, counts, records, plans):
        counts["checked"] += len(records)
        name_field = records._data_standard_name_field
        for changes, invalid in plans.values():
            counts["changed"] += bool(changes)
            counts["phone"] += any(fname in changes for fname in PHONE_FIELDS)
            counts["name_split"] += "legal_form" in changes or name_field in changes
            counts["invalid"] += bool(invalid)

    def _apply(self, records, plans):
        """Write the changes of the records that change (one write each, not tracked) and
        log one note on each saying what changed and by which normalization."""
        author = self.launched_by_id or self.create_uid
        # the administrator's normalization writes every record of the company, as the
        # administrator who started it (the notes are theirs)
        as_author = records.with_user(author)
        # sudo: values from the data standard only, none from a caller
        writer = as_author.sudo().with_company(self.company_id)
        writer = writer.with_context(mail_notrack=True, active_test=False)
        name_field = records._data_standard_name_field
        bodies = {}
        for record in writer:
            changes = plans.get(record.id, ({}, None))[0]
            if not changes:
                continue
            vals = {}
            for fname, (_old, new) in changes.items():
                if fname in (name_field, "legal_form"):
                    # the name as it is: the entry path splits it as the plan did (and
                    # keeps the legal form it splits off)
                    vals[name_field] = record[name_field]
                else:
                    vals[fname] = new
            with flag(self.env, NORMALIZING):  # the lead's customer keeps its own phone
                record.write(vals)
            bodies[record.id] = self._in_their_language()._note(record, changes)
        if bodies:
            writer.browse(list(bodies))._message_log_batch(bodies, author_id=author.partner_id.id)

    def _in_their_language(self):
        """The normalization in the language of the administrator who runs it (the cron's
        notes and log are read by them)."""
        return self.with_context(lang=(self.launched_by_id or self.create_uid).lang)

    def _note(self, record, changes):
        items = Markup("").join(
            Markup("<li>%s: %s → %s</li>")
            % (
                record._fields[fname]._description_string(self.env),
                old or "—",
                new or "—",
            )
            for fname, (old, new) in changes.items()
        )
        return Markup("<p>%s</p><ul>%s</ul>") % (
            self.env._("Normalized to the data standard (%s):", self.name),
            items,
        )

    def _examples(self, records, plans):
        changes, invalid = [], []
        # the model's name in the reader's language (Odoo's translated ir.model name)
        kind = self.env["ir.model"]._get(records._name).name
        for record in records:
            if record.id not in plans:
                continue
            changed, wrong = plans[record.id]
            label = f"{kind} “{record.display_name}” (#{record.id})"
            if changed:
                changes.append(
                    f"{label}: "
                    + "; ".join(
                        f"{record._fields[fname]._description_string(self.env)}: "
                        f"{old or '—'} → {new or '—'}"
                        for fname, (old, new) in changed.items()
                    )
                )
            if wrong:
                number, code = wrong
                invalid.append(f"{label}: “{number}”: {self.env._(PHONE_ERRORS[code])}")
        return changes, invalid

    @api.model
    def _log_more(self, log, lines):
        """``log`` with ``lines`` added, up to ``EXAMPLES`` lines in all."""
        kept = (log or "").splitlines()
        kept += lines[: max(EXAMPLES - len(kept), 0)]
        return "\n".join(kept) or False
