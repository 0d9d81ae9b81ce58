"""Check the data invariants of crm_regulation on a database, without Odoo.

Each invariant is one set-based SQL statement (no loop over leads): it returns the rows it
looked at, the number of leads (or rows) that break it and up to 5 example ids. Exit code:
0 when every invariant holds, 1 when one is violated, 2 on a usage or connection error.

    python benchmarks/invariants.py -d DB [--host DIR] [--port N] [--user U]
    python benchmarks/invariants.py --dsn "host=/work/main/.pg port=55432 dbname=DB user=root"
    ... [--expected-moves FILE.json] [--json] [--self-test]

``--expected-moves``: a JSON object {lead id: number of successful stage moves} written by a
load benchmark: for those leads the stays are counted against it instead of the chatter.
``--self-test``: breaks each invariant in turn with a targeted UPDATE/INSERT inside a
transaction, checks that exactly that invariant is reported, and rolls everything back.

Without the addon (no table crm_lead_stage_history) only crm's own data is looked at, and
crm itself requires no lost reason (its demo data loses leads without one): the count of
lost leads without a reason is shown for information and the script exits 0.
"""

import argparse
import json
import sys
import time
from typing import NamedTuple

import psycopg2

EXAMPLES = 5

# The moment the addon was installed: the install transaction's timestamp, kept as the
# creation date of the XML id of its stage history model (ir_model has no create_date).
INSTALL = """(SELECT create_date FROM ir_model_data
               WHERE module = 'crm_regulation' AND model = 'ir.model'
                 AND name = 'model_crm_lead_stage_history')"""
ACTIVITY_TYPE = """(SELECT res_id FROM ir_model_data
                     WHERE module = 'crm_regulation' AND model = 'mail.activity.type'
                       AND name = '{name}')"""
SLA_TYPE = ACTIVITY_TYPE.format(name="mail_activity_type_sla")
QUALIFY_TYPE = ACTIVITY_TYPE.format(name="mail_activity_type_qualify")
# whom a watcher writes to: the salesperson, else the team leader (none: no activity)
RECIPIENT = "COALESCE(l.user_id, (SELECT t.user_id FROM crm_team t WHERE t.id = l.team_id))"


def result_sql(checked, bad):
    """One statement: (rows checked, ids breaking the invariant, up to 5 of them)."""
    return f"""
        WITH bad AS MATERIALIZED ({bad})
        SELECT ({checked}),
               (SELECT count(*) FROM bad),
               ARRAY(SELECT id FROM bad ORDER BY id LIMIT {EXAMPLES})"""


class Invariant(NamedTuple):
    name: str
    doc: str
    checked: str  # SQL: the number of rows looked at
    bad: str  # SQL: the ids (column ``id``) that break it
    stock: bool = False  # holds on crm's tables alone


def moves_scope(expected):
    """SQL of the leads invariant 4 judges by the chatter, and of their counts."""
    listed = "SELECT key::int AS id, value::int AS moves FROM json_each_text(%(expected)s::json)"
    return listed if expected else "SELECT NULL::int AS id, NULL::int AS moves WHERE FALSE"


INVARIANTS = [
    Invariant(
        "open_stay",
        "Every active lead that has a stage is in exactly one open stay (no 'Left' date), "
        "and that stay is in the lead's current stage.",
        "SELECT count(*) FROM crm_lead WHERE active AND stage_id IS NOT NULL",
        """SELECT l.id FROM crm_lead l
            LEFT JOIN (SELECT lead_id, count(*) AS n, min(stage_id) AS stage_id
                         FROM crm_lead_stage_history WHERE date_out IS NULL
                        GROUP BY lead_id) o ON o.lead_id = l.id
            WHERE l.active AND l.stage_id IS NOT NULL
              AND (o.n IS DISTINCT FROM 1 OR o.stage_id IS DISTINCT FROM l.stage_id)""",
    ),
    Invariant(
        "no_stray_open_stay",
        "No lead is in two open stays, and a lead that is archived or lost (or has no "
        "stage) is in none: archiving, losing and winning close the stay in the same "
        "statement (_sync_leads: 'archived', 'lost', 'won').",
        "SELECT count(*) FROM crm_lead",
        """SELECT l.id FROM crm_lead l
             JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
            GROUP BY l.id, l.active, l.stage_id
           HAVING count(*) > 1 OR NOT l.active OR l.stage_id IS NULL""",
    ),
    Invariant(
        "contiguous_stays",
        "A lead's stays follow each other without gap or overlap: a stay left by a move or "
        "a win ends when the next one begins; after a loss or an archive the lead may come "
        "back later (a gap) but never before; only the last stay may be open.",
        "SELECT count(*) FROM crm_lead_stage_history",
        # Stays written by data files (the addon's demo: dates from the clock, evaluated
        # field by field, on the hour since 19.0.1.13.0 yet an hour apart when the load
        # crosses one) are left out of the date comparison, not of "only the last is open":
        # the write path never writes them.
        """SELECT DISTINCT lead_id AS id FROM (
               SELECT h.lead_id, h.date_out, h.end_reason,
                      lead(h.date_in) OVER w AS next_in,
                      lead(h.id) OVER w AS next_id,
                      d.id IS NOT NULL AS from_data,
                      lead(d.id IS NOT NULL) OVER w AS next_from_data
                 FROM crm_lead_stage_history h
                 LEFT JOIN ir_model_data d
                        ON d.model = 'crm.lead.stage.history' AND d.res_id = h.id
               WINDOW w AS (PARTITION BY h.lead_id ORDER BY h.date_in, h.id)) s
            WHERE next_id IS NOT NULL
              AND (date_out IS NULL
                   OR (NOT from_data AND NOT next_from_data
                       AND ((end_reason IN ('moved', 'won') AND date_out <> next_in)
                            OR next_in < date_out)))""",
    ),
    Invariant(
        "stays_match_moves",
        "A lead that only ever moved (no stay ended by a win, a loss or an archive) has one "
        "stay more than the stage changes its chatter tracks since the addon was installed "
        "(or than the moves a load benchmark counted, with --expected-moves).",
        # (filled in by _moves_invariant: it depends on --expected-moves)
        "",
        "",
    ),
    Invariant(
        "sla_notified_once",
        "The SLA watcher tells each recipient once per stay and deadline that a lead is at "
        "risk and once that it breached: one SLA activity per recipient per watcher run, "
        "at most two (warning, escalation) per stay, recipient and deadline.",
        f"""SELECT count(*) FROM mail_activity
             WHERE res_model = 'crm.lead' AND activity_type_id = {SLA_TYPE}""",
        f"""WITH a AS (
                SELECT a.res_id, a.user_id, a.create_date, a.date_deadline, h.id AS stay_id
                  FROM mail_activity a
                  LEFT JOIN crm_lead_stage_history h
                         ON h.lead_id = a.res_id AND h.date_in <= a.create_date
                        AND a.create_date < COALESCE(h.date_out, 'infinity')
                 WHERE a.res_model = 'crm.lead' AND a.activity_type_id = {SLA_TYPE}
                   AND a.automated)
            SELECT res_id AS id FROM a GROUP BY res_id, user_id, create_date
            HAVING count(*) > 1
            UNION
            SELECT res_id FROM a GROUP BY res_id, stay_id, user_id, date_deadline
            HAVING count(DISTINCT create_date) > 2""",
    ),
    Invariant(
        "qualification_notified_once",
        "The qualification watcher gives a lead's salesperson one 'Qualify' task at most: "
        "a lead has one qualification deadline, set when it is created.",
        f"""SELECT count(*) FROM mail_activity
             WHERE res_model = 'crm.lead' AND activity_type_id = {QUALIFY_TYPE}
               AND automated""",
        f"""SELECT res_id AS id FROM mail_activity
             WHERE res_model = 'crm.lead' AND activity_type_id = {QUALIFY_TYPE}
               AND automated
             GROUP BY res_id HAVING count(*) > 1""",
    ),
    Invariant(
        "lost_reason",
        "Every lost or disqualified lead has its lost reason, except a loss the regulation "
        "did not refuse: lost before the addon was installed, lost in audit mode or with a "
        "bypass (the compliance log has its closing entry), or in a team whose regulation "
        "is off.",
        "SELECT count(*) FROM crm_lead WHERE NOT active AND probability = 0",
        f"""SELECT l.id FROM crm_lead l
              LEFT JOIN crm_team t ON t.id = l.team_id
              LEFT JOIN res_company c ON c.id = l.company_id
             WHERE NOT l.active AND l.probability = 0 AND l.lost_reason_id IS NULL
               AND COALESCE(t.regulation_mode, c.crm_regulation_mode, 'audit') <> 'off'
               AND NOT (l.create_date < {INSTALL} AND NOT EXISTS (
                        SELECT 1 FROM crm_lead_stage_history h
                         WHERE h.lead_id = l.id
                           AND COALESCE(h.date_out, 'infinity') >= {INSTALL}))
               AND NOT EXISTS (SELECT 1 FROM crm_regulation_violation v
                                WHERE v.lead_id = l.id AND v.source = 'closing')""",
    ),
    Invariant(
        "outcome_matches_status",
        "A lead's outcome agrees with crm's won/lost status: won when won, lost or "
        "disqualified when lost, in progress otherwise.",
        "SELECT count(*) FROM crm_lead",
        # (an outcome left empty is a violation too: COALESCE, not IS DISTINCT FROM)
        """SELECT id FROM crm_lead
            WHERE NOT COALESCE((won_status = 'won' AND outcome = 'won')
                               OR (won_status = 'lost' AND outcome IN ('lost', 'disqualified'))
                               OR (won_status = 'pending' AND outcome = 'open'), FALSE)""",
    ),
    Invariant(
        "sla_at_risk_warned",
        "A lead marked 'At Risk' got its SLA warning in this stay (an SLA activity, still "
        "open or done), unless it had nobody to tell (no salesperson, no team leader).",
        "SELECT count(*) FROM crm_lead WHERE active AND sla_state = 'at_risk'",
        f"""SELECT l.id FROM crm_lead l
              LEFT JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
             WHERE l.active AND l.sla_state = 'at_risk' AND {RECIPIENT} IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'crm.lead' AND a.res_id = l.id
                      AND a.activity_type_id = {SLA_TYPE}
                      AND a.create_date >= COALESCE(h.date_in, '-infinity'))
               AND NOT EXISTS (
                   SELECT 1 FROM mail_message m
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id
                      AND m.mail_activity_type_id = {SLA_TYPE}
                      AND m.create_date >= COALESCE(h.date_in, '-infinity'))""",
    ),
    Invariant(
        "sla_breach_recorded",
        "A lead whose SLA is 'Breached' has the breach recorded on its open stay and the "
        "escalation logged on it (a note, and the SLA activity where the SLA says so) in "
        "this stay; an open stay marked breached belongs to a lead in 'Breached'.",
        """SELECT count(*) FROM crm_lead l
            WHERE l.active AND (l.sla_state = 'breached' OR EXISTS (
                  SELECT 1 FROM crm_lead_stage_history h
                   WHERE h.lead_id = l.id AND h.date_out IS NULL AND h.sla_breached))""",
        """SELECT l.id FROM crm_lead l
              JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
             WHERE l.active
               AND (h.sla_breached IS TRUE) <> (l.sla_state IS NOT DISTINCT FROM 'breached')
            UNION
            SELECT l.id FROM crm_lead l
              LEFT JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
             WHERE l.active AND l.sla_state = 'breached'
               AND NOT EXISTS (
                   SELECT 1 FROM mail_message m
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id
                      AND m.message_type = 'notification'
                      AND m.create_date >= COALESCE(h.date_in, '-infinity')
                      AND NOT EXISTS (SELECT 1 FROM mail_tracking_value v
                                       WHERE v.mail_message_id = m.id))""",
    ),
    Invariant(
        "qualification_warned",
        "A lead whose qualification deadline is 'Deadline Near' has its salesperson's "
        "'Qualify' task (still open or done), unless it had nobody to tell.",
        "SELECT count(*) FROM crm_lead WHERE qualification_state = 'warned'",
        f"""SELECT l.id FROM crm_lead l
             WHERE l.qualification_state = 'warned' AND {RECIPIENT} IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'crm.lead' AND a.res_id = l.id
                      AND a.activity_type_id = {QUALIFY_TYPE} AND a.automated)
               AND NOT EXISTS (
                   SELECT 1 FROM mail_message m
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id
                      AND m.mail_activity_type_id = {QUALIFY_TYPE})""",
    ),
    Invariant(
        "stale_notified",
        "A lead flagged stale was told so: a note posted on it when it was flagged (the "
        "flag and the note are written in the same batch).",
        "SELECT count(*) FROM crm_lead WHERE stale_date IS NOT NULL",
        """SELECT l.id FROM crm_lead l
             WHERE l.stale_date IS NOT NULL
               AND NOT EXISTS (
                   SELECT 1 FROM mail_message m
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id
                      AND m.message_type = 'notification' AND m.date >= l.stale_date)""",
    ),
    Invariant(
        "duplicate_sweep_progress",
        "The duplicate sweep's progress is whole: a pass in progress has its number and "
        "start; a finished pass keeps no position; no duplicate group is from a later "
        "pass than the last one. (Ids: of the progress rows.)",
        "SELECT count(*) FROM crm_duplicate_sweep",
        """SELECT s.id FROM crm_duplicate_sweep s
            WHERE s.step IS NULL OR s.step < 0 OR s.step > 8
               OR (s.step < 8 AND (COALESCE(s.run, 0) < 1 OR s.date_start IS NULL))
               OR (s.step = 8 AND s.after_key IS NOT NULL)
               OR EXISTS (SELECT 1 FROM crm_duplicate_group g
                           WHERE g.sweep_run > COALESCE(s.run, 0))""",
    ),
]

# Invariant 4, judged by the chatter. Which leads it can judge, and why:
# * stays written by data files (the addon's demo: past stays of its demo leads, written
#   as records without any tracked stage change) have an XML id: those leads are left out;
# * a lead that existed before the install got one backfilled stay (since its last stage
#   change, date_last_stage_update); its earlier moves are tracked in its chatter but have
#   no stay. So the tracked changes are counted from the install moment on (the
#   backfilled stay then stands for the "+1"); the tracking messages of a transaction are
#   created at its timestamp, never before the stays it opens;
# * a merge moves the merged leads' messages (with their stage tracking) to the lead
#   kept: leads with crm's merge summary are left out;
# * stage changes written without tracking (tracking_disable, an import without "track
#   history") leave nothing to count: such leads are reported, as the history cannot be
#   told from a lost move there.
MOVES_BAD = f"""
    WITH listed AS ({{listed}}),
    stays AS (
        SELECT h.lead_id, count(*) AS n
          FROM crm_lead_stage_history h
         GROUP BY h.lead_id
        HAVING bool_and(h.date_out IS NULL OR h.end_reason = 'moved')),
    judged AS (
        SELECT s.lead_id, s.n FROM stays s
         WHERE NOT EXISTS (SELECT 1 FROM listed WHERE listed.id = s.lead_id)
           AND NOT EXISTS (
               SELECT 1 FROM crm_lead_stage_history h
                 JOIN ir_model_data d ON d.model = 'crm.lead.stage.history' AND d.res_id = h.id
                WHERE h.lead_id = s.lead_id)
           AND NOT EXISTS (
               SELECT 1 FROM mail_message m
                WHERE m.model = 'crm.lead' AND m.res_id = s.lead_id
                  AND m.body LIKE '%%crm_lead_merge_summary%%')),
    tracked AS (
        SELECT m.res_id AS lead_id, count(*) AS moves
          FROM mail_tracking_value v
          JOIN mail_message m ON m.id = v.mail_message_id
         WHERE v.field_id = (SELECT id FROM ir_model_fields
                              WHERE model = 'crm.lead' AND name = 'stage_id')
           AND m.model = 'crm.lead' AND m.res_id IN (SELECT lead_id FROM judged)
           AND m.create_date >= {INSTALL}
         GROUP BY m.res_id)
    SELECT j.lead_id AS id FROM judged j LEFT JOIN tracked t ON t.lead_id = j.lead_id
     WHERE j.n <> COALESCE(t.moves, 0) + 1
    UNION ALL
    SELECT listed.id FROM listed LEFT JOIN stays s ON s.lead_id = listed.id
     WHERE COALESCE(s.n, 0) <> listed.moves + 1"""
MOVES_CHECKED = """
    SELECT count(*) FROM (SELECT lead_id FROM crm_lead_stage_history GROUP BY lead_id
                          HAVING bool_and(date_out IS NULL OR end_reason = 'moved')) s"""

# (invariant, what breaks it, SQL that breaks it once; rowcount 0: no data to break)
BREAKAGES = [
    (
        "open_stay",
        "an active lead's open stay put in another stage",
        """UPDATE crm_lead_stage_history h
              SET stage_id = (SELECT id FROM crm_stage WHERE id <> h.stage_id ORDER BY id LIMIT 1)
            WHERE h.id = (SELECT h2.id FROM crm_lead_stage_history h2
                            JOIN crm_lead l ON l.id = h2.lead_id
                           WHERE h2.date_out IS NULL AND l.active ORDER BY h2.id LIMIT 1)""",
    ),
    (
        "no_stray_open_stay",
        "the last stay of a lost lead (with its reason) reopened",
        """UPDATE crm_lead_stage_history SET date_out = NULL, end_reason = NULL
            WHERE id = (SELECT DISTINCT ON (h.lead_id) h.id
                          FROM crm_lead_stage_history h JOIN crm_lead l ON l.id = h.lead_id
                         WHERE NOT l.active AND l.stage_id IS NOT NULL
                           AND l.lost_reason_id IS NOT NULL
                         ORDER BY h.lead_id, h.date_in DESC, h.id DESC LIMIT 1)""",
    ),
    (
        "contiguous_stays",
        "a lead's stay ended by a win a second before its next stay begins",
        # (a win: the lead no longer "only moved", invariant 4 leaves it alone)
        """WITH stay AS (
                SELECT h.* FROM crm_lead_stage_history h JOIN crm_lead l ON l.id = h.lead_id
                 WHERE h.date_out IS NULL AND l.active
                   AND NOT EXISTS (SELECT 1 FROM ir_model_data d
                                    WHERE d.model = 'crm.lead.stage.history'
                                      AND d.res_id = h.id)
                 ORDER BY h.id LIMIT 1),
            closed AS (
                UPDATE crm_lead_stage_history h
                   SET date_out = h.date_in + interval '1 second', end_reason = 'won'
                  FROM stay WHERE h.id = stay.id
             RETURNING h.*)
            INSERT INTO crm_lead_stage_history (lead_id, stage_id, team_id, user_id,
                                                company_id, date_in)
            SELECT lead_id, stage_id, team_id, user_id, company_id,
                   date_in + interval '2 second' FROM closed""",
    ),
    (
        "stays_match_moves",
        "a stage change tracked on a lead that only moved, without its stay",
        """WITH lead AS (
                SELECT h.lead_id AS id FROM crm_lead_stage_history h
                 GROUP BY h.lead_id
                HAVING bool_and(h.date_out IS NULL OR h.end_reason = 'moved')
                   AND NOT bool_or(EXISTS (SELECT 1 FROM ir_model_data d
                                            WHERE d.model = 'crm.lead.stage.history'
                                              AND d.res_id = h.id))
                 ORDER BY h.lead_id LIMIT 1),
            msg AS (
                INSERT INTO mail_message (model, res_id, message_type, date, create_date)
                SELECT 'crm.lead', id, 'notification', now() AT TIME ZONE 'UTC',
                       now() AT TIME ZONE 'UTC' FROM lead
             RETURNING id)
            INSERT INTO mail_tracking_value (field_id, mail_message_id, create_date)
            SELECT (SELECT id FROM ir_model_fields WHERE model = 'crm.lead'
                     AND name = 'stage_id'), id, now() AT TIME ZONE 'UTC' FROM msg""",
    ),
    (
        "sla_notified_once",
        "two SLA activities for one recipient of a lead in the same watcher run",
        f"""INSERT INTO mail_activity (res_model_id, res_model, res_id, activity_type_id,
                                       user_id, date_deadline, automated, active, create_date)
            SELECT (SELECT id FROM ir_model WHERE model = 'crm.lead'), 'crm.lead', l.id,
                   {SLA_TYPE}, (SELECT min(id) FROM res_users), current_date, TRUE, TRUE,
                   now() AT TIME ZONE 'UTC'
              FROM (SELECT min(lead_id) AS id FROM crm_lead_stage_history
                     WHERE date_out IS NULL) l, generate_series(1, 2)""",
    ),
    (
        "qualification_notified_once",
        "two 'Qualify' tasks on one lead",
        f"""INSERT INTO mail_activity (res_model_id, res_model, res_id, activity_type_id,
                                       user_id, date_deadline, automated, active, create_date)
            SELECT (SELECT id FROM ir_model WHERE model = 'crm.lead'), 'crm.lead', l.id,
                   {QUALIFY_TYPE}, (SELECT min(id) FROM res_users), current_date, TRUE, TRUE,
                   now() AT TIME ZONE 'UTC'
              FROM (SELECT min(id) AS id FROM crm_lead WHERE active) l,
                   generate_series(1, 2)""",
    ),
    (
        "lost_reason",
        "the reason of a lead lost after the install removed",
        f"""UPDATE crm_lead SET lost_reason_id = NULL
            WHERE id = (SELECT l.id FROM crm_lead l
                         WHERE NOT l.active AND l.probability = 0 AND l.outcome = 'lost'
                           AND l.lost_reason_id IS NOT NULL AND l.create_date >= {INSTALL}
                           AND NOT EXISTS (SELECT 1 FROM crm_regulation_violation v
                                            WHERE v.lead_id = l.id AND v.source = 'closing')
                         ORDER BY l.id LIMIT 1)""",
    ),
    (
        "outcome_matches_status",
        "a lost lead's outcome set back to in progress",
        """UPDATE crm_lead SET outcome = 'open'
            WHERE id = (SELECT min(id) FROM crm_lead WHERE won_status = 'lost')""",
    ),
    (
        "sla_at_risk_warned",
        "a lead put 'At Risk' without its warning",
        f"""UPDATE crm_lead l SET sla_state = 'at_risk'
            WHERE l.id = (SELECT min(l.id) FROM crm_lead l
                           WHERE l.active AND l.sla_state = 'on_track'
                             AND {RECIPIENT} IS NOT NULL)""",
    ),
    (
        "sla_breach_recorded",
        "a lead put in 'Breached' without the breach on its stay",
        """UPDATE crm_lead SET sla_state = 'breached'
            WHERE id = (SELECT min(id) FROM crm_lead WHERE active AND sla_state = 'on_track')""",
    ),
    (
        "qualification_warned",
        "a lead put in 'Deadline Near' without its task",
        f"""UPDATE crm_lead l SET qualification_state = 'warned'
            WHERE l.id = (SELECT min(l.id) FROM crm_lead l
                           WHERE l.active AND {RECIPIENT} IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM mail_activity a
                                              WHERE a.res_model = 'crm.lead'
                                                AND a.res_id = l.id
                                                AND a.activity_type_id = {QUALIFY_TYPE}))""",
    ),
    (
        "stale_notified",
        "a lead flagged stale without its note",
        """UPDATE crm_lead SET stale_date = now() AT TIME ZONE 'UTC' + interval '1 day'
            WHERE id = (SELECT min(id) FROM crm_lead WHERE active AND stale_date IS NULL)""",
    ),
    (
        "duplicate_sweep_progress",
        "the sweep's progress in the middle of a pass that never started",
        """UPDATE crm_duplicate_sweep SET step = 2, date_start = NULL
            WHERE id = (SELECT min(id) FROM crm_duplicate_sweep)""",
    ),
]


class Result(NamedTuple):
    name: str
    ok: bool
    checked: int
    violations: int
    examples: list
    ms: float
    info: bool = False  # shown, never a failure


def invariants(expected):
    """The invariants to check, invariant 4 built for ``expected`` (or the chatter)."""
    result = []
    for invariant in INVARIANTS:
        if invariant.name == "stays_match_moves":
            invariant = invariant._replace(
                checked=MOVES_CHECKED, bad=MOVES_BAD.format(listed=moves_scope(expected))
            )
        result.append(invariant)
    return result


def run_checks(cr, expected, addon=True):
    """[Result] of every invariant, one statement each."""
    params = {"expected": json.dumps(expected or {})}
    results = []
    if not addon:
        # crm itself loses leads without a reason (its demo data does): information only
        start = time.perf_counter()
        cr.execute(
            result_sql(
                "SELECT count(*) FROM crm_lead WHERE NOT active AND probability = 0",
                """SELECT id FROM crm_lead
                    WHERE NOT active AND probability = 0 AND lost_reason_id IS NULL""",
            )
        )
        checked, count, examples = cr.fetchone()
        ms = (time.perf_counter() - start) * 1000
        return [Result("lost_reason (crm only)", True, checked, count, examples, ms, True)]
    for invariant in invariants(expected):
        start = time.perf_counter()
        cr.execute(result_sql(invariant.checked, invariant.bad), params)
        checked, count, examples = cr.fetchone()
        ms = (time.perf_counter() - start) * 1000
        results.append(Result(invariant.name, not count, checked, count, examples, ms))
    return results


def print_results(results):
    for res in results:
        status = "INFO" if res.info else ("OK" if res.ok else "FAILED")
        line = f"{res.name:<30} {status:<6} {res.checked:>10} rows checked {res.ms:>9.1f} ms"
        if res.violations:
            line += f"  {res.violations} violation(s), e.g. ids {res.examples}"
        print(line)


def self_test(cr, expected):
    """Break each invariant in a savepoint, check that exactly it fails, roll back."""
    baseline = [res.name for res in run_checks(cr, expected) if not res.ok]
    if baseline:
        print(f"self-test: the database already breaks {', '.join(baseline)}: cannot tell")
        return False
    ok = True
    for name, what, sql in BREAKAGES:
        cr.execute("SAVEPOINT breakage")
        try:
            cr.execute(sql)
            if not cr.rowcount:
                print(f"self-test {name:<30} SKIPPED (no data to break: {what})")
                ok = False
                continue
            failed = {res.name for res in run_checks(cr, expected) if not res.ok}
            passed = failed == {name}
            ok &= passed
            print(
                f"self-test {name:<30} {'OK' if passed else 'FAILED':<6} {what}"
                + ("" if passed else f": reported {sorted(failed) or 'nothing'}")
            )
        finally:
            cr.execute("ROLLBACK TO SAVEPOINT breakage")
    return ok


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="libpq connection string")
    parser.add_argument("-d", "--dbname", help="database (the PG* variables fill the rest)")
    parser.add_argument("--host", help="server host or socket directory")
    parser.add_argument("--port", help="server port")
    parser.add_argument("-U", "--user", help="user name")
    parser.add_argument("--expected-moves", metavar="FILE.json")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="break each invariant in a rolled-back transaction and check it is reported",
    )
    args = parser.parse_args(argv)
    if not args.dsn and not args.dbname:
        parser.error("give --dsn or -d DBNAME")
    return args


def load_expected(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    if not isinstance(data, dict) or not all(
        str(key).isdigit() and isinstance(value, int) for key, value in data.items()
    ):
        raise ValueError(f"{path}: expected a JSON object {{lead id: number of moves}}")
    return {str(key): value for key, value in data.items()}


def main(argv=None):
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        expected = load_expected(args.expected_moves)
        kwargs = {
            key: value
            for key, value in (
                ("dbname", args.dbname),
                ("host", args.host),
                ("port", args.port),
                ("user", args.user),
            )
            if value
        }
        conn = psycopg2.connect(args.dsn or "", **kwargs)
    except (OSError, ValueError, psycopg2.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.self_test:  # one snapshot for every invariant, nothing written
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with conn.cursor() as cr:
            cr.execute("SET jit = off")
            cr.execute("SET lock_timeout = '5s'")
            cr.execute("SELECT to_regclass('crm_lead_stage_history') IS NOT NULL")
            (addon,) = cr.fetchone()
            if args.self_test:
                if not addon:
                    print("crm_regulation is not installed: nothing to self-test")
                    return 0
                return 0 if self_test(cr, expected) else 1
            start = time.perf_counter()
            results = run_checks(cr, expected, addon)
            total = (time.perf_counter() - start) * 1000
    finally:
        conn.rollback()
        conn.close()
    failed = [res for res in results if not res.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "addon_installed": addon,
                    "ok": not failed,
                    "ms": round(total, 1),
                    "invariants": [{**res._asdict(), "ms": round(res.ms, 1)} for res in results],
                },
                indent=2,
            )
        )
    else:
        if not addon:
            print("crm_regulation is not installed (no crm_lead_stage_history): crm data only")
        print_results(results)
        print(f"{len(results) - len(failed)}/{len(results)} invariants hold ({total:.0f} ms)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
