"""The compliance log: every requirement of the regulation a create/write did not meet, in
every mode, whatever the outcome (refused, would have been refused, warned, bypassed).
Written by ``_record`` only, in one statement per batch; the rows of a refused call in a
short transaction of their own (the refused call is rolled back)."""

import logging
import threading
from typing import NamedTuple
from urllib.parse import urlsplit

import odoo.modules.module
from odoo import api, fields, models
from odoo.http import request
from odoo.tools import SQL

from .crm_team import REGULATION_MODES

_logger = logging.getLogger(__name__)

# URL prefixes of Odoo's external APIs (XML-RPC, JSON-RPC, the JSON-2 API of Odoo 19)
API_PREFIXES = ("/xmlrpc", "/jsonrpc", "/json/", "/RPC2")
# the separate transaction of a refused call's log never waits longer than this for a lock
REFUSAL_LOCK_TIMEOUT = "2s"


class Violation(NamedTuple):
    """One unmet requirement of one lead, as logged."""

    lead_id: int
    lead_name: str
    team_id: int | None
    user_id: int | None
    company_id: int | None
    rule_id: int | None
    source: str  # rule | stage | closing | duplicate
    text: str
    mode: str
    outcome: str

    @classmethod
    def of_lead(cls, lead, source, text, mode, outcome):
        """A built-in requirement (no rule) of ``lead`` (a record read as the log needs)."""
        return cls(
            lead_id=lead.id,
            lead_name=lead.display_name,
            team_id=lead.team_id.id,
            user_id=lead.user_id.id,
            company_id=lead.company_id.id,
            rule_id=None,
            source=source,
            text=text,
            mode=mode,
            outcome=outcome,
        )


class CrmRegulationViolation(models.Model):
    _name = "crm.regulation.violation"
    _inherit = ["crm.regulation.scope.mixin"]  # its rule reads the leads' scopes
    _description = "Sales Regulation Compliance Log"
    _order = "date desc, id desc"
    _rec_name = "requirement"
    _log_access = False

    date = fields.Datetime(string="When", required=True, readonly=True, index=True)
    lead_id = fields.Many2one(
        "crm.lead",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="Empty when the lead was being created by the refused call (its name is kept).",
    )
    lead_name = fields.Char(readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True, ondelete="set null")
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True, ondelete="set null")
    author_id = fields.Many2one(
        "res.users",
        string="Done By",
        readonly=True,
        ondelete="set null",
        help="Who made the change (the salesperson, an import, an integration, a cron).",
    )
    company_id = fields.Many2one("res.company", readonly=True, ondelete="set null")
    rule_id = fields.Many2one("crm.regulation.rule", readonly=True, ondelete="set null")
    source = fields.Selection(
        [
            ("rule", "Transition rule"),
            ("stage", "Stage requirement"),
            ("closing", "Closing requirement"),
            ("duplicate", "Duplicate policy"),
        ],
        string="Requirement Of",
        readonly=True,
        required=True,
    )
    requirement = fields.Char(readonly=True, required=True)
    path = fields.Selection(
        [
            ("ui", "User interface"),
            ("import", "Import"),
            ("api", "API"),
            ("automation", "Automation"),
        ],
        readonly=True,
        required=True,
    )
    mode = fields.Selection(REGULATION_MODES, readonly=True, required=True)
    outcome = fields.Selection(
        [
            ("refused", "Refused"),
            ("would_refuse", "Would Be Refused"),
            ("warned", "Warned"),
            ("bypassed", "Bypassed"),
        ],
        readonly=True,
        required=True,
    )
    # ------------------------------------------------------------
    # Writing the log
    # ------------------------------------------------------------

    @api.model
    def _regulation_path(self):
        """Where the change comes from: an import, an automation (automated actions,
        crons, server-side code), the external API, or the user interface. Odoo's
        XML-RPC and JSON-RPC take the request off the stack while they run: their URL
        stays on the thread."""
        context = self.env.context
        if context.get("import_file"):
            return "import"
        if context.get("__action_done") is not None:
            return "automation"
        if request:
            return "api" if request.httprequest.path.startswith(API_PREFIXES) else "ui"
        url = getattr(threading.current_thread(), "url", None)
        if url and urlsplit(url).path.startswith(API_PREFIXES):
            return "api"
        return "automation"

    @api.model
    def _record(self, violations, refused=False):
        """Log ``violations`` (Violation) in one statement. The rows of a refused call
        are written and committed in a transaction of their own, which takes no lock a
        caller may hold (a lead locked by the caller, or created by the refused call
        itself, is logged by its name only) and waits on none for long."""
        if not violations:
            return
        if not refused or odoo.modules.module.current_test:
            # (a test's transaction is never committed: its refusals are logged in it)
            self._record_sql(self.env.cr, violations)
            return
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(SQL("SET LOCAL lock_timeout = %s", REFUSAL_LOCK_TIMEOUT))
                self._record_sql(cr, violations)
        except Exception:
            _logger.warning("crm_regulation: the refusal could not be logged", exc_info=True)

    @api.model
    def _record_sql(self, cr, violations):
        """One INSERT for every row. A reference that the transaction cannot see (a row
        created by the refused call) or that another transaction locks is left empty."""
        columns = list(zip(*violations, strict=True))

        def visible(table, values):
            return SQL(
                "(SELECT r.id FROM %s r WHERE r.id = %s FOR KEY SHARE SKIP LOCKED)",
                SQL.identifier(table),
                values,
            )

        cr.execute(
            SQL(
                """
            INSERT INTO crm_regulation_violation
                   (date, lead_id, lead_name, team_id, user_id, author_id, company_id,
                    rule_id, source, requirement, path, mode, outcome)
            SELECT %(now)s, %(lead)s, v.lead_name, %(team)s, %(user)s, %(author)s,
                   %(company)s, %(rule)s, v.source, v.text, %(path)s, v.mode, v.outcome
              FROM unnest(%(lead_ids)s::int[], %(names)s::varchar[], %(team_ids)s::int[],
                          %(user_ids)s::int[], %(company_ids)s::int[], %(rule_ids)s::int[],
                          %(sources)s::varchar[], %(texts)s::varchar[], %(modes)s::varchar[],
                          %(outcomes)s::varchar[])
                   AS v(lead_id, lead_name, team_id, user_id, company_id, rule_id, source,
                        text, mode, outcome)
                """,
                now=self.env.cr.now(),
                lead=visible("crm_lead", SQL("v.lead_id")),
                team=visible("crm_team", SQL("v.team_id")),
                user=visible("res_users", SQL("v.user_id")),
                author=visible("res_users", SQL("%s", self.env.uid)),
                company=visible("res_company", SQL("v.company_id")),
                rule=visible("crm_regulation_rule", SQL("v.rule_id")),
                path=self._regulation_path(),
                lead_ids=list(columns[0]),
                names=list(columns[1]),
                team_ids=[value or None for value in columns[2]],
                user_ids=[value or None for value in columns[3]],
                company_ids=[value or None for value in columns[4]],
                rule_ids=[value or None for value in columns[5]],
                sources=list(columns[6]),
                texts=list(columns[7]),
                modes=list(columns[8]),
                outcomes=list(columns[9]),
            )
        )
        if cr is self.env.cr:
            self.invalidate_model()
