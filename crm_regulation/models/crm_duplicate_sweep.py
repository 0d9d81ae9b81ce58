"""The duplicate sweep: a scheduled job that fills the review queue (``crm.duplicate.group``).

One pass is a list of steps, each done in batches, each batch committed with its progress:

1. company name keys of the rows that existed before the data standard (NULL
   ``company_key``), computed by the ORM (``_compute_company_key``), by id ranges;
2. for leads (open: active, pending) and contacts (active), and each key (phone in E.164,
   normalized e-mail, company name key): the rows of one range of the key's partial index
   at a time (keyset pagination, ``BATCH_ROWS`` index entries, read index only), grouped
   by company and key in SQL, in one statement per batch: the groups found matched with
   the queue (its unique index of the keys), new ones inserted with a signature of their
   members, those whose members changed updated (a dismissed or merged one is to review
   again) and their members rewritten, the groups to review of the range that are not
   found any more deleted (their members no longer form a duplicate); a group found
   unchanged is not written at all, so a rerun writes nothing.

The progress (pass, step, last key) is one row of ``crm.duplicate.sweep``, locked for each
batch with ``FOR UPDATE SKIP LOCKED``: a second worker skips while the first holds it, and
resumes from the committed progress otherwise; a batch that failed is done again (each is
idempotent). A pass started is finished before the next one starts."""

from odoo import api, fields, models
from odoo.tools import SQL

from .kpi_sql import jit_off

# index entries read per batch of a grouping step, rows per batch of the keys step
BATCH_ROWS = 50_000
KEY_BATCH = 2_000
# (step kind, argument)
STEPS = (
    ("keys", "crm.lead"),
    ("keys", "res.partner"),
    ("groups", ("lead", "phone")),
    ("groups", ("lead", "email")),
    ("groups", ("lead", "company_name")),
    ("groups", ("contact", "phone")),
    ("groups", ("contact", "email")),
    ("groups", ("contact", "company_name")),
)
DONE = len(STEPS)
KEY_COLUMNS = {
    "phone": "phone_sanitized",
    "email": "email_normalized",
    "company_name": "company_key",
}
# res_model -> (table, the rows that count: open leads, active contacts ("{t}": the alias),
# members' relation table, its column)
TABLES = {
    "lead": (
        "crm_lead",
        "{t}active AND {t}won_status = 'pending'",
        "crm_duplicate_group_lead_rel",
        "lead_id",
    ),
    "contact": ("res_partner", "{t}active", "crm_duplicate_group_partner_rel", "partner_id"),
}
# the rows whose company name key is missing (rows from before the data standard)
KEYLESS = {
    "crm.lead": "company_key IS NULL AND partner_name <> ''",
    "res.partner": "company_key IS NULL AND is_company AND name <> ''",
}


def sweep_indexes():
    """(name, table, column, where) of the partial indexes of the sweep: the open leads' and
    active contacts' keys, whose ranges it reads index only; the rows without a company
    name key (older than the data standard: few, and none once the sweep has run)."""
    return [
        (
            f"{table}_crm_duplicate_{key_type}_index",
            table,
            column,
            f"{column} IS NOT NULL AND {condition.format(t='')}",
        )
        for table, condition, _rel, _col in TABLES.values()
        for key_type, column in KEY_COLUMNS.items()
    ] + [
        (
            f"{model.replace('.', '_')}_crm_duplicate_keyless_index",
            model.replace(".", "_"),
            "id",
            where,
        )
        for model, where in KEYLESS.items()
    ]


class CrmDuplicateSweep(models.Model):
    _name = "crm.duplicate.sweep"
    _description = "Duplicate Sweep Progress"

    name = fields.Char(required=True)
    run = fields.Integer(
        string="Pass", readonly=True, help="The number of the current or last pass."
    )
    step = fields.Integer(readonly=True, default=DONE)
    after_key = fields.Char(readonly=True, help="The last key (or id) done of the step.")
    date_start = fields.Datetime(string="Pass Started", readonly=True)
    date_done = fields.Datetime(string="Last Pass Finished", readonly=True)

    def init(self):
        result = super().init()
        for name, table, column, where in sweep_indexes():
            self.env.cr.execute(
                SQL(
                    "CREATE INDEX IF NOT EXISTS %s ON %s (%s) WHERE " + where,
                    SQL.identifier(name),
                    SQL.identifier(table),
                    SQL.identifier(column),
                )
            )
        return result

    # ------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------

    @api.model
    def _cron_sweep(self):
        """The scheduled job: finish the pass under way, or start one; batches committed
        one by one (the cron runs the job again while time is up and steps remain)."""
        sweep = self.env.ref("crm_regulation.crm_duplicate_sweep_progress")
        Cron = self.env["ir.cron"]
        begin = True
        while True:
            outcome = sweep._sweep_batch(begin=begin)
            begin = False
            if outcome is None:  # another worker holds the sweep: it does the work
                Cron._commit_progress(remaining=0)
                return
            processed, done = outcome
            if done:
                Cron._commit_progress(processed, remaining=0)
                return
            # (steps remain: the runner calls the job again while its time lasts)
            if not Cron._commit_progress(max(processed, 1), remaining=1):
                return

    # ------------------------------------------------------------
    # One batch
    # ------------------------------------------------------------

    def _sweep_batch(self, begin=False, batch_rows=BATCH_ROWS):
        """One batch of the pass under the lock of the progress row: (records processed,
        whether the pass is done), or None when another worker holds the row. ``begin``:
        start a new pass if the last one is done. The caller commits."""
        self.ensure_one()
        cr = self.env.cr
        cr.execute(
            "SELECT run, step, after_key FROM crm_duplicate_sweep WHERE id = %s "
            "FOR UPDATE SKIP LOCKED",
            [self.id],
        )
        row = cr.fetchone()
        if row is None:
            return None
        run, step, after = row
        started = None
        if step >= DONE:
            if not begin:
                return 0, True
            run, step, after, started = (run or 0) + 1, 0, None, fields.Datetime.now()
        kind, argument = STEPS[step]
        if kind == "keys":
            processed, after, finished = self._sweep_keys(argument, after)
        else:
            processed, after, finished = self._sweep_groups(*argument, run, after, batch_rows)
        if finished:
            step, after = step + 1, None
        cr.execute(
            """
            UPDATE crm_duplicate_sweep
               SET run = %(run)s, step = %(step)s, after_key = %(after)s,
                   date_start = COALESCE(%(started)s, date_start),
                   date_done = CASE WHEN %(done)s THEN now() AT TIME ZONE 'UTC'
                                    ELSE date_done END,
                   write_date = now() AT TIME ZONE 'UTC', write_uid = %(uid)s
             WHERE id = %(id)s
            """,
            {
                "run": run,
                "step": step,
                "after": after,
                "started": started,
                "done": step >= DONE,
                "uid": self.env.uid,
                "id": self.id,
            },
        )
        self.invalidate_recordset()
        return processed, step >= DONE

    @api.model
    def _sweep_keys(self, model_name, after):
        """Company name keys of a batch of rows without one (rows older than the data
        standard), computed as the ORM computes them and written in one statement (not a
        write: the rows' write date and author stay theirs): (rows, last id, finished)."""
        Model = self.env[model_name].with_context(active_test=False)
        table = Model._table
        self.env.cr.execute(
            SQL(
                "SELECT id FROM %s WHERE id > %s AND "
                + KEYLESS[model_name]
                + " ORDER BY id LIMIT %s",
                SQL.identifier(table),
                int(after or 0),
                KEY_BATCH,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if not ids:
            return 0, None, True
        records = Model.browse(ids)
        keys = records._data_standard_keys()
        self.env.cr.execute(
            SQL(
                "UPDATE %s AS t SET company_key = k.key"
                " FROM unnest(%s::int[], %s::varchar[]) AS k(id, key) WHERE t.id = k.id",
                SQL.identifier(table),
                list(keys),
                list(keys.values()),
            )
        )
        records.invalidate_recordset(["company_key"])
        return len(ids), str(ids[-1]), len(ids) < KEY_BATCH

    @api.model
    def _sweep_groups(self, res_model, key_type, run, after, batch_rows):
        """The groups of one range of keys: (rows read, last key, finished)."""
        table, condition, rel, member_col = TABLES[res_model]
        column = KEY_COLUMNS[key_type]
        Model = self.env["crm.lead" if res_model == "lead" else "res.partner"]
        team_fields = ["team_id"] if res_model == "lead" else ["user_id"]
        Model.flush_model([column, "active", "company_id", *team_fields])
        self.env["crm.duplicate.group"].flush_model()
        cr = self.env.cr
        col = SQL.identifier(column)
        lower = SQL("AND %s > %s", col, after) if after is not None else SQL()
        # (constants of this file)
        open_rows = SQL(f"{column} IS NOT NULL AND {condition.format(t='')}")
        open_t = SQL(f"t.{column} IS NOT NULL AND {condition.format(t='t.')}")
        with jit_off(cr):
            # the upper key of the batch: ``batch_rows`` entries further in the key's index
            cr.execute(
                SQL(
                    "SELECT %s FROM %s WHERE %s %s ORDER BY %s OFFSET %s LIMIT 1",
                    col,
                    SQL.identifier(table),
                    open_rows,
                    lower,
                    col,
                    batch_rows - 1,
                )
            )
            row = cr.fetchone()
            upper = row[0] if row else None
            upper_sql = SQL("AND %s <= %s", col, upper) if upper is not None else SQL()
            if res_model == "lead":
                # the team of the oldest lead that has one
                team = SQL(
                    "(array_agg(t.team_id ORDER BY t.create_date, t.id)"
                    " FILTER (WHERE t.team_id IS NOT NULL))[1]"
                )
                team_join = SQL()
            else:
                # the contacts' team if the column exists (sale), else their salesperson's
                own = (
                    "t.team_id, "
                    if "team_id" in Model._fields and Model._fields["team_id"].store
                    else ""
                )
                team = SQL(
                    f"(array_agg(COALESCE({own}u.sale_team_id) ORDER BY t.id)"
                    f" FILTER (WHERE COALESCE({own}u.sale_team_id) IS NOT NULL))[1]"
                )
                team_join = SQL("LEFT JOIN res_users u ON u.id = t.user_id")
            cr.execute(
                SQL(
                    """
                    WITH dup_keys AS (
                        SELECT %(col)s AS key_value FROM %(table)s
                         WHERE %(open)s %(lower)s %(upper)s
                         GROUP BY %(col)s HAVING count(*) > 1
                    ), found AS (
                        SELECT t.company_id, t.%(col)s AS key_value,
                               array_agg(t.id ORDER BY t.id) AS member_ids,
                               md5(array_to_string(array_agg(t.id ORDER BY t.id), ','))
                                   AS signature,
                               %(team)s AS team_id
                          FROM %(table)s t %(team_join)s
                         -- "= ANY(ARRAY(...))": the duplicated keys first, then their
                         -- rows by index (PostgreSQL cannot estimate how few they are)
                         WHERE t.%(col)s = ANY(ARRAY(SELECT key_value FROM dup_keys))
                           AND %(open_t)s
                         GROUP BY t.%(col)s, t.company_id
                        HAVING count(*) > 1
                    ), matched AS MATERIALIZED (
                        -- each group found, with its row in the queue if it has one (a
                        -- new one gets its id here: no join between the steps below)
                        SELECT f.*, g.id AS group_id, g.signature AS old_signature,
                               g.team_id AS old_team_id,
                               CASE WHEN g.id IS NULL
                                    THEN nextval('crm_duplicate_group_id_seq') END AS new_id
                          FROM found f
                          LEFT JOIN crm_duplicate_group g
                                 ON g.res_model = %(res_model)s
                                AND g.key_type = %(key_type)s
                                AND g.key_value = f.key_value
                                AND g.company_id IS NOT DISTINCT FROM f.company_id
                    ), inserted AS (
                        -- (the batch holds the sweep's lock: no other insert of these keys;
                        -- the unique index of the keys stands guard)
                        INSERT INTO crm_duplicate_group
                               (id, company_id, team_id, res_model, key_type, key_value,
                                member_count, signature, state, sweep_run, date_found,
                                create_uid, create_date, write_uid, write_date)
                        SELECT m.new_id, m.company_id, m.team_id, %(res_model)s,
                               %(key_type)s, m.key_value, cardinality(m.member_ids),
                               m.signature, 'to_review', %(run)s, %(now)s, %(uid)s, %(now)s,
                               %(uid)s, %(now)s
                          FROM matched m
                         WHERE m.new_id IS NOT NULL
                        RETURNING 1
                    ), updated AS (
                        -- changed members: to review again (dismissed or merged before)
                        UPDATE crm_duplicate_group g
                           SET team_id = m.team_id,
                               member_count = cardinality(m.member_ids),
                               signature = m.signature,
                               state = CASE WHEN m.old_signature = m.signature
                                            THEN g.state ELSE 'to_review' END,
                               dismissed_by_id = CASE WHEN m.old_signature = m.signature
                                                      THEN g.dismissed_by_id END,
                               dismissed_date = CASE WHEN m.old_signature = m.signature
                                                     THEN g.dismissed_date END,
                               merged_by_id = CASE WHEN m.old_signature = m.signature
                                                   THEN g.merged_by_id END,
                               merged_date = CASE WHEN m.old_signature = m.signature
                                                  THEN g.merged_date END,
                               sweep_run = CASE WHEN m.old_signature = m.signature
                                                THEN g.sweep_run ELSE %(run)s END,
                               date_found = CASE WHEN m.old_signature = m.signature
                                                 THEN g.date_found ELSE %(now)s END,
                               write_uid = %(uid)s, write_date = %(now)s
                          FROM matched m
                         WHERE g.id = m.group_id
                           AND (m.old_signature IS DISTINCT FROM m.signature
                                OR m.old_team_id IS DISTINCT FROM m.team_id)
                        RETURNING 1
                    ), gone AS (
                        -- the range's groups to review that are not duplicates any more
                        DELETE FROM crm_duplicate_group g
                         WHERE g.res_model = %(res_model)s AND g.key_type = %(key_type)s
                           AND g.state = 'to_review' %(g_lower)s %(g_upper)s
                           AND g.id NOT IN (SELECT group_id FROM matched
                                             WHERE group_id IS NOT NULL)
                        RETURNING 1
                    ), removed AS (
                        DELETE FROM %(rel)s r USING matched m
                         WHERE r.group_id = m.group_id
                           AND m.old_signature IS DISTINCT FROM m.signature
                           AND r.%(member)s <> ALL(m.member_ids)
                        RETURNING 1
                    ), added AS (
                        INSERT INTO %(rel)s (group_id, %(member)s)
                        SELECT COALESCE(m.new_id, m.group_id), unnest(m.member_ids)
                          FROM matched m
                         WHERE m.new_id IS NOT NULL
                            OR m.old_signature IS DISTINCT FROM m.signature
                        ON CONFLICT DO NOTHING
                        RETURNING 1
                    )
                    SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated),
                           (SELECT count(*) FROM gone), (SELECT count(*) FROM removed),
                           (SELECT count(*) FROM added)
                    """,
                    col=col,
                    table=SQL.identifier(table),
                    open=open_rows,
                    open_t=open_t,
                    lower=lower,
                    upper=upper_sql,
                    g_lower=SQL("AND g.key_value > %s", after) if after is not None else SQL(),
                    g_upper=SQL("AND g.key_value <= %s", upper) if upper is not None else SQL(),
                    team=team,
                    team_join=team_join,
                    res_model=res_model,
                    key_type=key_type,
                    run=run,
                    now=fields.Datetime.now(),
                    uid=self.env.uid,
                    rel=SQL.identifier(rel),
                    member=SQL.identifier(member_col),
                )
            )
            cr.fetchone()
        self.env["crm.duplicate.group"].invalidate_model()
        return batch_rows if upper is not None else 0, upper, upper is None
