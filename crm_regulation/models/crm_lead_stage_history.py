from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .business_clock import clock_for
from .regulation import NO_SLA_START, Span, SpanHours

# How a stay ends.
END_REASONS = [
    ("moved", "Moved to another stage"),
    ("won", "Won"),
    ("lost", "Lost"),
    ("archived", "Archived"),
]
# Stays given their business hours per statement by the install and upgrade fill.
FILL_BATCH = 20000


def _sql_hours(start, end):
    """SQL of the calendar hours from ``start`` to ``end`` (never negative)."""
    return SQL("EXTRACT(EPOCH FROM GREATEST(%s, %s) - %s) / 3600.0", end, start, start)


class CrmLeadStageHistory(models.Model):
    """One row per stay of a lead in a stage.

    Rows are written by this model only (set-based SQL, one statement per batch: the write
    path of ``crm.lead`` calls ``_sync_leads``, the SLA its ``_sla_*`` methods), never by
    users: salespeople and managers read them, nobody edits them
    through the UI. A lead that is active and has a stage has exactly one open row
    (``date_out`` empty): the write path keeps it so, and a constraint guards rows written
    through the ORM. (No unique index: it would make every close a non-HOT update.)
    """

    _name = "crm.lead.stage.history"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Lead Stage History"
    _order = "date_in desc, id desc"
    # Rows are written by set-based SQL on the hot path of every stage change: no
    # create_uid/write_uid (two foreign-key checks per row); who moved a lead is in the
    # lead's chatter (stage tracking).
    _log_access = False
    _rec_name = "stage_id"

    lead_id = fields.Many2one(
        "crm.lead",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    stage_id = fields.Many2one(
        "crm.stage",
        ondelete="set null",
        readonly=True,
        help="Empty when the stage was deleted after the stay: the stay itself is kept.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team", ondelete="set null", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", ondelete="set null", readonly=True)
    # indexed: the figures take the stays that began in a period (never updated: closing a
    # stay stays a HOT update)
    date_in = fields.Datetime("Entered", required=True, readonly=True, index=True)
    date_out = fields.Datetime(
        "Left", readonly=True, help="Empty while the lead is still in this stage."
    )
    duration_hours = fields.Float(
        "Duration (hours)",
        compute="_compute_duration_hours",
        store=True,
        aggregator="avg",
        help="Calendar hours spent in the stage; empty while the stay is open.",
    )
    end_reason = fields.Selection(
        END_REASONS,
        string="Ended By",
        readonly=True,
    )
    is_open = fields.Boolean("Current Stay", compute="_compute_is_open", search="_search_is_open")
    duration_business_hours = fields.Float(
        "Duration (Business Hours)",
        readonly=True,
        aggregator="avg",
        help="Working hours of the team spent in the stage; empty while the stay is open.",
    )
    sla_hours = fields.Float(
        "SLA (Business Hours)",
        readonly=True,
        aggregator="avg",
        help="The stage's target for this stay, in business hours (empty: no SLA).",
    )
    sla_deadline = fields.Datetime("SLA Deadline", readonly=True)
    sla_breached = fields.Boolean(
        "SLA Breached",
        readonly=True,
        help="The lead stayed past the deadline: recorded by the SLA watcher, or when the "
        "stay ended late.",
    )
    sla_overdue_hours = fields.Float(
        "Overdue (Business Hours)",
        readonly=True,
        aggregator="avg",
        help="Business hours past the deadline: when the watcher saw the breach, then when "
        "the stay ended.",
    )

    _date_out_after_date_in = models.Constraint(
        "CHECK (date_out IS NULL OR date_out >= date_in)",
        "A stay cannot end before it starts.",
    )

    @api.constrains("lead_id", "date_out")
    def _check_single_open_stay(self):
        """Rows written through the ORM (administrators, data files) keep the invariant the
        write path keeps in SQL: one open stay per lead."""
        open_leads = self.filtered(lambda stay: not stay.date_out).lead_id
        if not open_leads:
            return
        counts = self._read_group(
            [("lead_id", "in", open_leads.ids), ("date_out", "=", False)],
            ["lead_id"],
            ["__count"],
            having=[("__count", ">", 1)],
        )
        if counts:
            raise ValidationError(
                self.env._(
                    "A lead can be in only one stage at a time: %(leads)s already "
                    "has an open stay.",
                    leads=", ".join(lead.display_name for lead, _count in counts),
                )
            )

    def init(self):
        # Closing a stay updates date_out, duration_hours and end_reason, none of them
        # indexed: free room in each page lets PostgreSQL do it as a HOT update (no index
        # writes) on the hot path of every stage change.
        self.env.cr.execute("ALTER TABLE crm_lead_stage_history SET (fillfactor = 85)")

    @api.depends("date_in", "date_out")
    def _compute_duration_hours(self):
        for stay in self:
            if stay.date_in and stay.date_out:
                stay.duration_hours = (stay.date_out - stay.date_in).total_seconds() / 3600.0
            else:
                stay.duration_hours = False

    @api.depends("date_out")
    def _compute_is_open(self):
        for stay in self:
            stay.is_open = not stay.date_out

    def _search_is_open(self, operator, value):
        if operator not in ("=", "!="):
            return NotImplemented
        is_open = (operator == "=") == bool(value)
        return [("date_out", "=" if is_open else "!=", False)]

    # ------------------------------------------------------------
    # BUSINESS (called by crm.lead and the install hook; set-based SQL)
    # ------------------------------------------------------------

    @api.model
    def _sync_leads(self, leads, states, sla, date_in_from_lead=False, became_lost=False):
        """Bring the stays of ``leads`` in line with their current state.

        Invariant: a lead that is active and has a stage has exactly one open stay, in that
        stage; any other lead has none. The leads' new values are taken from the ORM cache
        (no early flush of crm_lead: ``states``, their LeadState as the write path read
        them), then, in one statement:

        1. open stays that no longer match (stage changed, lead archived, lost or won) are
           closed, with how they ended;
        2. leads that stay in a stage without an open stay get one (since now, or since
           their ``date_last_stage_update`` for new leads);
        3. (a second statement) with ``became_lost``: inactive leads whose probability was
           just set to 0 became lost after being archived (crm's ``action_set_lost``
           archives first, then sets the probability), so their last stay ended by a loss.

        ``sla``: {lead id: SlaStart} of the stays that start, from the lead's SLA.
        A stay that ends after its SLA deadline is breached, watcher or not. The stays that
        end get their business hours in the same statement (read first: one indexed query;
        no index of "stays to fill" that a close would have to update: closing a stay stays
        a HOT update).
        """
        if not leads:
            return
        cr = self.env.cr
        now = cr.now()
        lost_ids = [state.id for state in states if state.lost]
        # new leads enter their stage at date_last_stage_update (an import may set it)
        date_in = (
            SQL(
                "COALESCE((SELECT date_last_stage_update FROM crm_lead l WHERE l.id = v.lead_id),"
                " %s)",
                now,
            )
            if date_in_from_lead
            else SQL("%s::timestamp", now)
        )
        if date_in_from_lead:
            leads.flush_recordset(["date_last_stage_update"])
        self.flush_model()
        by_id = {state.id: state for state in states}
        open_leads, closing_ids, closing = set(), [], []
        for stay_id, lead_id, team_id, stay_in, deadline, stage_id in self.env.execute_query(
            SQL(
                # one index probe per lead (OFFSET 0 keeps the subquery apart): with
                # "lead_id = ANY(...)" PostgreSQL reads a history of up to a few hundred
                # thousand rows whole (14 ms instead of 1 ms at 60,000 rows)
                """SELECT h.id, h.lead_id, h.team_id, h.date_in, h.sla_deadline, h.stage_id
                     FROM unnest(%s::int[]) AS v(lead_id)
                    CROSS JOIN LATERAL (
                          SELECT * FROM crm_lead_stage_history h
                           WHERE h.lead_id = v.lead_id AND h.date_out IS NULL OFFSET 0) h""",
                list(by_id),
            )
        ):
            open_leads.add(lead_id)
            if not by_id[lead_id].active or stage_id != by_id[lead_id].stage_id:
                closing_ids.append(stay_id)
                closing.append(
                    Span(
                        key=lead_id,
                        team_id=team_id,
                        date_in=stay_in,
                        date_out=max(now, stay_in),
                        deadline=deadline,
                    )
                )
        closing_leads = {span.key for span in closing}
        spent = self._business_hours(closing) if closing else {}
        starts = [sla.get(state.id, NO_SLA_START) for state in states]
        ends = [spent.get(state.id) for state in states]
        # One statement (the arrays are sent once): close the stays read above (by id),
        # then open a stay for every staying lead that had none open or whose open stay
        # this statement closed (the read above saw this transaction's snapshot). No join
        # with the whole history table: PostgreSQL hashed it twice on tables of up to a few
        # hundred thousand rows.
        cr.execute(
            SQL(
                """
            WITH v AS MATERIALIZED (
                SELECT * FROM unnest(%(ids)s::int[], %(stages)s::int[], %(actives)s::bool[],
                                     %(teams)s::int[], %(users)s::int[], %(companies)s::int[],
                                     %(deadlines)s::timestamp[], %(sla_hours)s::float8[],
                                     %(business_hours)s::float8[], %(overdue)s::float8[],
                                     %(opens)s::bool[], %(closes)s::bool[])
                       AS v(lead_id, stage_id, active, team_id, user_id, company_id,
                            sla_deadline, sla_hours, business_hours, overdue, opens, closes)
            ), closed AS (
                UPDATE crm_lead_stage_history AS h
                   SET date_out = GREATEST(%(now)s, h.date_in),
                       duration_hours = %(duration)s,
                       duration_business_hours = v.business_hours,
                       sla_overdue_hours = CASE WHEN h.sla_deadline IS NOT NULL
                                                THEN v.overdue END,
                       sla_breached = COALESCE(h.sla_breached OR h.sla_deadline < %(now)s, FALSE),
                       end_reason = CASE
                           WHEN NOT v.active AND v.lead_id = ANY(%(lost_ids)s) THEN 'lost'
                           WHEN NOT v.active THEN 'archived'
                           WHEN v.stage_id IN (SELECT id FROM crm_stage WHERE is_won)
                            AND h.stage_id NOT IN (SELECT id FROM crm_stage WHERE is_won)
                                THEN 'won'
                           ELSE 'moved' END
                  FROM v
                 WHERE h.id = ANY(%(closing_ids)s)
                   AND h.lead_id = v.lead_id
                   AND h.date_out IS NULL
             RETURNING h.lead_id
            )
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in, sla_deadline,
                    sla_hours)
            SELECT v.lead_id, v.stage_id, v.team_id, v.user_id, v.company_id, %(date_in)s,
                   v.sla_deadline, v.sla_hours
              FROM v
             WHERE v.opens
               AND (NOT v.closes OR v.lead_id IN (SELECT lead_id FROM closed))
            """,
                now=now,
                duration=_sql_hours(SQL("h.date_in"), now),
                date_in=date_in,
                lost_ids=lost_ids,
                closing_ids=closing_ids,
                ids=[state.id for state in states],
                stages=[state.stage_id for state in states],
                actives=[state.active for state in states],
                teams=[state.team_id for state in states],
                users=[state.user_id for state in states],
                companies=[state.company_id for state in states],
                deadlines=[start.deadline for start in starts],
                sla_hours=[start.hours for start in starts],
                business_hours=[end and end.hours for end in ends],
                overdue=[end and end.overdue for end in ends],
                opens=[
                    bool(state.active and state.stage_id)
                    and (state.id not in open_leads or state.id in closing_leads)
                    for state in states
                ],
                closes=[state.id in closing_leads for state in states],
            )
        )
        if became_lost and lost_ids:
            cr.execute(
                SQL(
                    """
                UPDATE crm_lead_stage_history AS h
                   SET end_reason = 'lost'
                 WHERE h.id IN (
                       SELECT DISTINCT ON (lead_id) id
                         FROM crm_lead_stage_history
                        WHERE lead_id = ANY(%s)
                     ORDER BY lead_id, date_in DESC, id DESC)
                   AND h.end_reason = 'archived'
                """,
                    lost_ids,
                )
            )
        self.invalidate_model()
        leads.invalidate_recordset(["stage_history_ids", "stage_history_count"])

    @api.model
    def _business_hours(self, spans):
        """{key: SpanHours} of ``spans`` (Span), in the working hours of the team (the
        company's without), one clock per calendar."""
        calendars = self.env["crm.team"]._regulation_calendars({span.team_id for span in spans})
        by_calendar = defaultdict(list)
        for span in spans:
            by_calendar[calendars[span.team_id or 0]].append(span)
        result = {}
        for calendar, group in by_calendar.items():
            moments = [m for span in group for m in (span.date_in, span.date_out, span.deadline)]
            clock = clock_for(calendar, moments) if calendar else None
            for key, _team, date_in, date_out, deadline in group:
                if clock is None:  # no working hours anywhere: calendar hours
                    hours = (date_out - date_in).total_seconds() / 3600.0
                    overdue = (date_out - deadline).total_seconds() / 3600.0 if deadline else 0
                else:
                    hours = clock.hours_between(date_in, date_out)
                    overdue = clock.hours_between(deadline, date_out) if deadline else 0
                result[key] = SpanHours(hours=round(hours, 4), overdue=round(max(overdue, 0.0), 4))
        return result

    @api.model
    def _fill_business_hours(self, batch_size=FILL_BATCH):
        """Give the closed stays without business hours theirs (the stays recorded before
        19.0.1.3.0; the install backfill writes its closed stays with theirs), by id
        ranges of those stays only: one keyset query and one UPDATE per batch. Returns the
        number of stays filled."""
        self.flush_model()
        filled, last_id = 0, 0
        while True:
            stays = self.env.execute_query(
                SQL(
                    """SELECT id, team_id, date_in, date_out, sla_deadline
                         FROM crm_lead_stage_history
                        WHERE date_out IS NOT NULL AND duration_business_hours IS NULL
                          AND id > %s
                        ORDER BY id LIMIT %s""",
                    last_id,
                    batch_size,
                )
            )
            if not stays:
                break
            last_id = stays[-1][0]
            spent = self._business_hours([Span(*stay) for stay in stays])
            if spent:
                ids = list(spent)
                self.env.cr.execute(
                    SQL(
                        """UPDATE crm_lead_stage_history h
                              SET duration_business_hours = v.hours,
                                  sla_overdue_hours = CASE WHEN h.sla_deadline IS NULL
                                                           THEN NULL ELSE v.overdue END
                             FROM unnest(%s::int[], %s::float8[], %s::float8[])
                                  AS v(id, hours, overdue)
                            WHERE h.id = v.id AND h.duration_business_hours IS NULL""",
                        ids,
                        [spent[stay_id].hours for stay_id in ids],
                        [spent[stay_id].overdue for stay_id in ids],
                    )
                )
                filled += self.env.cr.rowcount
        self.invalidate_model(["duration_business_hours", "sla_overdue_hours"])
        return filled

    @api.model
    def _backfill(self, bulk=False):
        """Give every lead without history a row, in one set-based statement.

        Active leads with a stage get an open stay since ``date_last_stage_update``;
        inactive ones (lost or archived) a closed stay ending at ``date_closed``, with its
        business hours (computed first, written with the row: no second pass).
        ``bulk`` (the install hook): the table's foreign keys and secondary indexes are
        dropped for the INSERT and put back after it, with the same names and
        definitions: one validation query per key and one sorted build per index instead
        of a key check and an index entry per row each (a million rows: 3 s instead of
        36 s). Returns the number of rows written.
        """
        self.flush_model()
        self.env["crm.lead"].flush_model()
        cr = self.env.cr
        now = cr.now()
        spans = SQL(
            """SELECT COALESCE(l.date_last_stage_update, l.create_date, %(now)s) AS date_in,
                      COALESCE(l.date_closed, l.write_date, %(now)s) AS date_end""",
            now=now,
        )
        missing = SQL(
            """l.stage_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history AS h
                                WHERE h.lead_id = l.id)"""
        )
        closed = self.env.execute_query(
            SQL(
                """SELECT l.id, l.team_id, s.date_in, GREATEST(s.date_end, s.date_in)
                     FROM crm_lead AS l CROSS JOIN LATERAL (%s) AS s
                    WHERE NOT l.active AND %s""",
                spans,
                missing,
            )
        )
        spent = self._business_hours([Span(*stay, None) for stay in closed]) if closed else {}
        deferred = self._bulk_load_begin() if bulk else None
        cr.execute(
            SQL(
                """
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in, date_out,
                    duration_hours, end_reason, duration_business_hours)
            SELECT l.id, l.stage_id, l.team_id, l.user_id, l.company_id, s.date_in,
                   CASE WHEN l.active THEN NULL ELSE GREATEST(s.date_end, s.date_in) END,
                   CASE WHEN l.active THEN NULL ELSE %(duration)s END,
                   CASE WHEN l.active THEN NULL
                        WHEN l.probability = 0 THEN 'lost'
                        ELSE 'archived' END,
                   CASE WHEN l.active THEN NULL ELSE bh.hours END
              FROM crm_lead AS l
             CROSS JOIN LATERAL (%(spans)s) AS s
              LEFT JOIN unnest(%(ids)s::int[], %(hours)s::float8[]) AS bh(lead_id, hours)
                     ON bh.lead_id = l.id
             WHERE %(missing)s
            """,
                spans=spans,
                missing=missing,
                duration=_sql_hours(SQL("s.date_in"), SQL("s.date_end")),
                ids=list(spent),
                hours=[span.hours for span in spent.values()],
            )
        )
        count = cr.rowcount
        if deferred is not None:
            self._bulk_load_end(deferred)
        self.invalidate_model()
        return count

    @api.model
    def _bulk_load_begin(self):
        """Drop the foreign keys and the secondary indexes of the table before a bulk
        load; returns what ``_bulk_load_end`` puts back (same names and definitions: Odoo's
        ``ir.model.constraint`` and index checks see them unchanged)."""
        cr = self.env.cr
        cr.execute(
            """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = %s::regclass AND contype = 'f'""",
            [self._table],
        )
        fkeys = cr.fetchall()
        cr.execute(
            """SELECT i.relname, pg_get_indexdef(i.oid), obj_description(i.oid, 'pg_class')
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
                  AND NOT x.indisunique AND NOT x.indisexclusion""",
            [self._table],
        )
        indexes = cr.fetchall()
        for name, _definition in fkeys:
            cr.execute(
                SQL(
                    "ALTER TABLE %s DROP CONSTRAINT %s",
                    SQL.identifier(self._table),
                    SQL.identifier(name),
                )
            )
        for name, _definition, _comment in indexes:
            cr.execute(SQL("DROP INDEX %s", SQL.identifier(name)))
        return fkeys, indexes

    @api.model
    def _bulk_load_end(self, deferred):
        fkeys, indexes = deferred
        cr = self.env.cr
        cr.execute("SELECT current_setting('maintenance_work_mem')")
        (work_mem,) = cr.fetchone()
        cr.execute("SELECT set_config('maintenance_work_mem', '256MB', true)")
        for name, definition, comment in indexes:
            cr.execute(definition)
            if comment:  # models.Index keeps its definition there
                cr.execute(SQL("COMMENT ON INDEX %s IS %s", SQL.identifier(name), comment))
        for name, definition in fkeys:
            cr.execute(
                SQL(
                    "ALTER TABLE %s ADD CONSTRAINT %s %s",
                    SQL.identifier(self._table),
                    SQL.identifier(name),
                    SQL(definition),
                )
            )
        cr.execute("SELECT set_config('maintenance_work_mem', %s, true)", [work_mem])
        # the planner's statistics of the new rows (the business-hour fill and the first
        # stage moves plan on them)
        cr.execute(SQL("ANALYZE %s", SQL.identifier(self._table)))

    # ------------------------------------------------------------
    # SLA of the open stays (called by crm.lead's SLA)
    # ------------------------------------------------------------

    @api.model
    def _sla_reschedule_open(self, lead_ids, plans):
        """The open stays of ``lead_ids`` take their lead's new SLA (SlaPlan each)."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE crm_lead_stage_history h
                      SET sla_deadline = v.deadline, sla_hours = NULLIF(v.hours, 0),
                          sla_breached = COALESCE(v.state = 'breached', FALSE)
                     FROM unnest(%s::int[], %s::timestamp[], %s::float8[], %s::varchar[])
                          AS v(lead_id, deadline, hours, state)
                    WHERE h.lead_id = v.lead_id AND h.date_out IS NULL""",
                list(lead_ids),
                [plan.deadline for plan in plans],
                [plan.hours for plan in plans],
                [plan.state for plan in plans],
            )
        )
        self.invalidate_model(["sla_deadline", "sla_hours", "sla_breached"])

    @api.model
    def _sla_record_breaches(self, overdue):
        """The open stays of the leads of ``overdue`` ({lead id: business hours past the
        deadline}) breached their SLA."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE crm_lead_stage_history h
                      SET sla_breached = TRUE, sla_overdue_hours = v.hours
                     FROM unnest(%s::int[], %s::float8[]) AS v(lead_id, hours)
                    WHERE h.lead_id = v.lead_id AND h.date_out IS NULL""",
                list(overdue),
                list(overdue.values()),
            )
        )
        self.invalidate_model(["sla_breached", "sla_overdue_hours"])
