from odoo import api, fields, models
from odoo.tools import SQL


class CrmLeadStageHistory(models.Model):
    """One row per stay of a lead in a stage.

    Rows are written by the write path of ``crm.lead`` only (set-based SQL, one statement
    per batch), never by users: salespeople and managers read them, nobody edits them
    through the UI. A lead that is active and has a stage has exactly one open row
    (``date_out`` empty), enforced by a partial unique index.
    """

    _name = "crm.lead.stage.history"
    _description = "Lead Stage History"
    _order = "date_in desc, id desc"
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
        index=True,
        ondelete="set null",
        readonly=True,
        help="Empty when the stage was deleted after the stay: the stay itself is kept.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team", ondelete="set null", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", ondelete="set null", readonly=True)
    date_in = fields.Datetime("Entered", required=True, readonly=True)
    date_out = fields.Datetime(
        "Left", readonly=True, help="Empty while the lead is still in this stage."
    )
    duration_hours = fields.Float(
        "Duration (hours)",
        compute="_compute_duration_hours",
        store=True,
        aggregator="avg",
        digits=(16, 2),
        help="Calendar hours spent in the stage; empty while the stay is open.",
    )
    end_reason = fields.Selection(
        [
            ("moved", "Moved to another stage"),
            ("won", "Won"),
            ("lost", "Lost"),
            ("archived", "Archived"),
        ],
        string="Ended By",
        readonly=True,
    )
    is_open = fields.Boolean("Current Stay", compute="_compute_is_open", search="_search_is_open")

    _lead_open_stay_unique = models.UniqueIndex(
        "(lead_id) WHERE date_out IS NULL",
        "A lead has only one open stay in a stage.",
    )
    _date_out_after_date_in = models.Constraint(
        "CHECK (date_out IS NULL OR date_out >= date_in)",
        "A stay cannot end before it starts.",
    )

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
    # BUSINESS (called by crm.lead; set-based, one statement each)
    # ------------------------------------------------------------

    @api.model
    def _sync_leads(self, leads, date_in_from_lead=False, relabel_lost=False):
        """Bring the stays of ``leads`` in line with their current state, in SQL.

        Invariant: a lead that is active and has a stage has exactly one open stay, in that
        stage; any other lead has none. The leads' pending writes are flushed first, then:

        1. open stays that no longer match (stage changed, lead archived, lost or won) are
           closed, with how they ended;
        2. leads that stay in a stage without an open stay get one (since now, or since
           their ``date_last_stage_update`` for new leads);
        3. with ``relabel_lost``: leads that became lost after being archived (crm archives
           first, then sets the probability to 0) get their last stay marked as lost.
        """
        if not leads:
            return
        leads.flush_recordset(
            [
                "stage_id",
                "active",
                "won_status",
                "team_id",
                "user_id",
                "company_id",
                "date_last_stage_update",
            ]
        )
        self.flush_model()
        cr = self.env.cr
        now = cr.now()
        params = {"ids": leads.ids, "now": now, "uid": self.env.uid}
        cr.execute(
            SQL(
                """
            UPDATE crm_lead_stage_history AS h
               SET date_out = GREATEST(%(now)s, h.date_in),
                   duration_hours = EXTRACT(EPOCH FROM GREATEST(%(now)s, h.date_in) - h.date_in)
                                    / 3600.0,
                   end_reason = CASE
                       WHEN NOT l.active AND l.won_status = 'lost' THEN 'lost'
                       WHEN NOT l.active THEN 'archived'
                       WHEN l.won_status = 'won' AND NOT EXISTS (
                            SELECT 1 FROM crm_stage s WHERE s.id = h.stage_id AND s.is_won)
                            THEN 'won'
                       ELSE 'moved' END,
                   write_uid = %(uid)s,
                   write_date = %(now)s
              FROM crm_lead AS l
             WHERE l.id = ANY(%(ids)s)
               AND h.lead_id = l.id
               AND h.date_out IS NULL
               AND (NOT l.active OR h.stage_id IS DISTINCT FROM l.stage_id)
            """,
                **params,
            )
        )
        cr.execute(
            SQL(
                """
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in,
                    create_uid, create_date, write_uid, write_date)
            SELECT l.id, l.stage_id, l.team_id, l.user_id, l.company_id, %(date_in)s,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM crm_lead AS l
             WHERE l.id = ANY(%(ids)s)
               AND l.active
               AND l.stage_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history AS h
                                WHERE h.lead_id = l.id AND h.date_out IS NULL)
            """,
                date_in=SQL("COALESCE(l.date_last_stage_update, %s)", now)
                if date_in_from_lead
                else now,
                **params,
            )
        )
        if relabel_lost:
            cr.execute(
                SQL(
                    """
                UPDATE crm_lead_stage_history AS h
                   SET end_reason = 'lost'
                 WHERE h.id IN (
                       SELECT DISTINCT ON (last.lead_id) last.id
                         FROM crm_lead_stage_history AS last
                         JOIN crm_lead AS l ON l.id = last.lead_id
                        WHERE l.id = ANY(%(ids)s) AND l.won_status = 'lost'
                     ORDER BY last.lead_id, last.date_in DESC, last.id DESC)
                   AND h.end_reason = 'archived'
                """,
                    **params,
                )
            )
        self.invalidate_model()
        leads.invalidate_recordset(["stage_history_ids", "stage_history_count"])

    @api.model
    def _backfill(self):
        """Give every lead without history a row, in one set-based statement.

        Active leads with a stage get an open stay since ``date_last_stage_update``;
        inactive ones (lost or archived) a closed stay ending at ``date_closed``.
        Returns the number of rows written.
        """
        self.flush_model()
        self.env["crm.lead"].flush_model()
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in, date_out,
                    duration_hours, end_reason, create_uid, create_date, write_uid, write_date)
            SELECT l.id, l.stage_id, l.team_id, l.user_id, l.company_id, s.date_in,
                   CASE WHEN l.active THEN NULL ELSE GREATEST(s.date_end, s.date_in) END,
                   CASE WHEN l.active THEN NULL
                        ELSE EXTRACT(EPOCH FROM GREATEST(s.date_end, s.date_in) - s.date_in)
                             / 3600.0 END,
                   CASE WHEN l.active THEN NULL
                        WHEN l.probability = 0 THEN 'lost'
                        ELSE 'archived' END,
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM crm_lead AS l
             CROSS JOIN LATERAL (
                   SELECT COALESCE(l.date_last_stage_update, l.create_date, %(now)s) AS date_in,
                          COALESCE(l.date_closed, l.write_date, %(now)s) AS date_end
             ) AS s
             WHERE l.stage_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history AS h
                                WHERE h.lead_id = l.id)
            """,
                uid=self.env.uid,
                now=self.env.cr.now(),
            )
        )
        count = self.env.cr.rowcount
        self.invalidate_model()
        return count
