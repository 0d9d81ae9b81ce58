"""Benchmark of the two watcher crons of crm_regulation, measured in one run against raw SQL.

One database (crm + crm_regulation) gets ``--leads`` open leads in one team ("Bench Team":
a leader, four salespeople, a qualification deadline, stale leads lost automatically),
written with set-based SQL: one creation message per lead, stage history by the addon's
own backfill. Most leads are recent and settled; a controlled number is due:

* qualification watcher: ``--due-qualification`` leads whose check time has passed, half
  near their deadline (the salesperson gets an activity), half past it (the team leader
  gets a message); 1% of the leads wait for a later check;
* stale-lead watcher: ``--due-flag`` leads untouched for the team's number of days (flagged,
  the salesperson gets a message), ``--due-lose`` flagged leads past the grace period (lost,
  logged), ``--due-unflag`` flagged leads moved since; not due: flagged leads within the
  grace period, and old leads touched by a planned activity or a comment.

The crons commit their batches (``ir.cron._commit_progress`` commits outside a cron): each
configuration is measured once, on the benchmark's own database. Printed, per due set:

1. a raw ``SELECT count(*)`` of the set (the cron's own query wrapped in a count, and a
   hand-written query with the team's settings as constants): median time;
2. the cron's "find what is due" query alone (same call as the cron): median time, ratio
   to the raw count;
3. the whole cron run (once): time, ms per lead, and the ratio to a plain-ORM estimate
   (raw count + N x the cost of one notification made the plain ORM way, measured on a
   sample of settled leads, committed like the crons' batches: the commit sends emails,
   one by one; without an SMTP server here they fail fast, a real server costs more);
4. a second cron run right after, which must find and process nothing;
5. EXPLAIN (ANALYZE, BUFFERS) of each due query, in one line (``--full-plans``: whole).
"""

import argparse
import math
import re
import statistics
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from unittest.mock import patch

from markupsafe import Markup

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import SQL, config

TEAM = "Bench Team"
STAGE_NAMES = ["New", "Qualified", "Proposal", "Negotiation"]
STALE_DAYS, GRACE_DAYS = 30, 7
# lead sets, in the order of their buckets (see generate); the rest is recent and settled
SETS = ("near", "overdue", "pending", "flag", "lose", "unflag", "waiting", "touched_activity",
        "touched_comment")  # fmt: skip
NOT_DUE = {"waiting": 1000, "touched_activity": 500, "touched_comment": 500}


def ensure_team(env):
    """The benchmark team (leader, salespeople, stages, watcher settings), created once."""
    team = env["crm.team"].search([("name", "=", TEAM)], limit=1)
    if not team:
        Users = env["res.users"].with_context(no_reset_password=True)
        leader = Users.create(
            {
                "name": "Bench Leader",
                "login": "bench_watch_leader",
                "group_ids": [(4, env.ref("sales_team.group_sale_manager").id)],
            }
        )
        sales = Users.create(
            [
                {
                    "name": f"Bench Watcher Salesperson {i}",
                    "login": f"bench_watch_sales_{i}",
                    "group_ids": [(4, env.ref("sales_team.group_sale_salesman").id)],
                }
                for i in range(4)
            ]
        )
        team = env["crm.team"].create({"name": TEAM, "user_id": leader.id})
        stages = env["crm.stage"].create(
            [
                {"name": f"Watch {name}", "sequence": 700 + i, "team_ids": [(6, 0, team.ids)]}
                for i, name in enumerate(STAGE_NAMES)
            ]
            + [
                {
                    "name": "Watch Won",
                    "sequence": 799,
                    "is_won": True,
                    "team_ids": [(6, 0, team.ids)],
                }
            ]
        )
        team.write(
            {
                "member_ids": [(6, 0, sales.ids)],
                "qualification_stage_id": stages[1].id,
                "qualification_hours": 24,
                "qualification_warning_hours": 4,
                "stale_days": STALE_DAYS,
                "stale_auto_lose": True,
                "stale_grace_days": GRACE_DAYS,
                "stale_lost_reason_id": env.ref("crm_regulation.lost_reason_no_response").id,
            }
        )
    stages = env["crm.stage"].search([("team_ids", "in", team.ids)], order="sequence")
    return team, stages.filtered(lambda s: not s.is_won), team.member_ids


def set_sizes(args):
    sizes = {
        "near": args.due_qualification // 2,
        "overdue": args.due_qualification - args.due_qualification // 2,
        "pending": args.leads // 100,
        "flag": args.due_flag,
        "lose": args.due_lose,
        "unflag": args.due_unflag,
        **NOT_DUE,
    }
    if sum(sizes.values()) > args.leads:
        raise SystemExit(f"--leads {args.leads} is smaller than the due sets ({sizes})")
    return sizes


def generate(env, args):
    """Insert the leads, their creation messages, the touches of the "touched" sets and
    the stage history, in a few statements. A permutation of the series spreads each set
    over the whole table, as in a real database; each lead's set is kept in its ``color``
    (1 + its index in SETS, the rest len(SETS) + 1) for the checks after the runs."""
    team, stages, users = ensure_team(env)
    env.flush_all()
    cr = env.cr
    sizes = set_sizes(args)
    bounds = [0]
    for name in SETS:
        bounds.append(bounds[-1] + sizes[name])
    step = next(p for p in range(7919, 10**6) if math.gcd(p, args.leads) == 1)
    bucket = {name: i + 1 for i, name in enumerate(SETS)}  # width_bucket: 0 below bounds[0]
    cr.execute("SELECT setseed(0.42)")
    cr.execute(
        """
        WITH src AS (
            SELECT g, random() AS rnd,
                   width_bucket(((g::bigint * %(step)s) %% %(count)s)::int, %(bounds)s::int[])
                       AS cat,
                   now() AT TIME ZONE 'UTC' AS now
              FROM generate_series(1, %(count)s) AS g
        ), lead AS (
            SELECT src.*,
                   cat IN (%(near)s, %(overdue)s, %(pending)s) AS fresh,
                   CASE cat
                       WHEN %(near)s THEN now - rnd * interval '2 hours'
                       WHEN %(overdue)s THEN now - rnd * interval '2 hours'
                       WHEN %(pending)s THEN now + interval '1 hour' + rnd * interval '47 hours'
                   END AS check_at,
                   CASE cat
                       WHEN %(flag)s THEN now - interval '40 days' - rnd * interval '20 days'
                       WHEN %(lose)s THEN now - interval '50 days' - rnd * interval '20 days'
                       WHEN %(unflag)s THEN now - rnd * interval '4 days'
                       WHEN %(waiting)s THEN now - interval '35 days' - rnd * interval '10 days'
                       WHEN %(touched_activity)s THEN now - (1 + rnd) * interval '40 days'
                       WHEN %(touched_comment)s THEN now - (1 + rnd) * interval '40 days'
                       WHEN %(near)s THEN now - rnd * interval '1 day'
                       WHEN %(overdue)s THEN now - rnd * interval '1 day'
                       WHEN %(pending)s THEN now - rnd * interval '1 day'
                       ELSE now - rnd * interval '25 days'
                   END AS last_move,
                   CASE cat
                       WHEN %(lose)s THEN now - interval '8 days' - rnd * interval '5 days'
                       WHEN %(unflag)s THEN now - interval '5 days'
                       WHEN %(waiting)s THEN now - rnd * interval '6 days'
                   END AS stale_date
              FROM src
        )
        INSERT INTO crm_lead (name, type, active, team_id, user_id, company_id, stage_id,
                              probability, expected_revenue, priority, won_status, outcome,
                              date_open, date_last_stage_update, create_date, write_date,
                              create_uid, write_uid, qualification_deadline,
                              qualification_state, qualification_check_at, qualification_date,
                              stale_date, color)
        SELECT 'Bench watched lead ' || g, 'opportunity', TRUE, %(team)s,
               (%(users)s::int[])[1 + (g %% array_length(%(users)s::int[], 1))],
               %(company)s,
               CASE WHEN fresh THEN (%(stages)s::int[])[1]
                    ELSE (%(stages)s::int[])[
                        2 + floor(rnd * (array_length(%(stages)s::int[], 1) - 1))::int]
               END,
               10 + (g %% 80), 1000 * (1 + g %% 500), '1', 'pending', 'open',
               CASE WHEN fresh THEN now - interval '1 day' ELSE now - interval '200 days' END,
               last_move,
               CASE WHEN fresh THEN now - interval '1 day' ELSE now - interval '200 days' END,
               now, 1, 1,
               CASE WHEN cat = %(overdue)s THEN check_at
                    WHEN fresh THEN check_at + interval '4 hours'
                    ELSE now - interval '199 days' END,
               CASE cat WHEN %(overdue)s THEN 'warned'
                        WHEN %(near)s THEN 'pending'
                        WHEN %(pending)s THEN 'pending'
                        ELSE 'done' END,
               check_at,
               CASE WHEN fresh THEN NULL ELSE now - interval '199 days' END,
               stale_date, cat
          FROM lead
         ORDER BY g
        """,
        {
            **bucket,
            "step": step,
            "count": args.leads,
            "bounds": bounds,
            "team": team.id,
            "users": users.ids,
            "company": env.company.id,
            "stages": stages.ids,
        },
    )
    # one creation message per lead (a notification: it does not count as a touch)
    cr.execute(
        """
        INSERT INTO mail_message (model, res_id, message_type, subtype_id, author_id, body,
                                  date, create_date, write_date, create_uid, write_uid)
        SELECT 'crm.lead', id, 'notification', %(note)s, %(author)s, '<p>Lead created</p>',
               create_date, create_date, create_date, 1, 1
          FROM crm_lead WHERE team_id = %(team)s ORDER BY id
        """,
        {
            "note": env.ref("mail.mt_note").id,
            "author": env.ref("base.partner_root").id,
            "team": team.id,
        },
    )
    # old leads touched lately: an activity planned for next week, or a comment
    cr.execute(
        """
        INSERT INTO mail_activity (res_model_id, res_model, res_id, res_name, activity_type_id,
                                   user_id, summary, date_deadline, automated, active,
                                   create_date, write_date, create_uid, write_uid)
        SELECT %(model)s, 'crm.lead', id, name, %(todo)s, user_id, 'Call back',
               (now() AT TIME ZONE 'UTC')::date + 7, FALSE, TRUE,
               date_last_stage_update, date_last_stage_update, 1, 1
          FROM crm_lead WHERE team_id = %(team)s AND color = %(cat)s ORDER BY id
        """,
        {
            "model": env["ir.model"]._get_id("crm.lead"),
            "todo": env.ref("mail.mail_activity_data_todo").id,
            "team": team.id,
            "cat": bucket["touched_activity"],
        },
    )
    cr.execute(
        """
        INSERT INTO mail_message (model, res_id, message_type, subtype_id, author_id, body,
                                  date, create_date, write_date, create_uid, write_uid)
        SELECT 'crm.lead', id, 'comment', %(note)s, %(author)s, '<p>Called, call back</p>',
               now() AT TIME ZONE 'UTC' - interval '5 days',
               now() AT TIME ZONE 'UTC' - interval '5 days',
               now() AT TIME ZONE 'UTC' - interval '5 days', 1, 1
          FROM crm_lead WHERE team_id = %(team)s AND color = %(cat)s ORDER BY id
        """,
        {
            "note": env.ref("mail.mt_note").id,
            "author": env.ref("base.partner_root").id,
            "team": team.id,
            "cat": bucket["touched_comment"],
        },
    )
    env["crm.lead.stage.history"]._backfill()
    env.invalidate_all()
    return team, sizes


def vacuum_analyze(registry):
    """VACUUM ANALYZE the tables the watchers read (outside a transaction): fresh
    statistics and visibility map, as autovacuum would leave them."""
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        try:
            for table in ("crm_lead", "mail_message", "mail_activity", "crm_lead_stage_history"):
                cr.execute(SQL("VACUUM ANALYZE %s", SQL.identifier(table)))
        finally:
            cr._cnx.autocommit = False


def median_time(fn, rounds):
    """(median seconds, last result) of ``rounds`` calls of ``fn``."""
    times, result = [], None
    for _round in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def touched_sql(since, untouched=False):
    """Hand-written twin of crm.lead._stale_touched_sql for one lead ``l`` (no stage move
    test: the callers compare date_last_stage_update themselves). ``untouched``: the
    negation, as two NOT EXISTS (anti-joins for the planner)."""
    activity = SQL(
        """EXISTS (SELECT 1 FROM mail_activity a
                    WHERE a.res_model = 'crm.lead' AND a.res_id = l.id
                      AND (a.create_date >= %(since)s OR a.date_deadline >= (%(since)s)::date))""",
        since=since,
    )
    message = SQL(
        """EXISTS (SELECT 1 FROM mail_message m
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id AND m.date >= %(since)s
                      AND (m.message_type IN ('comment', 'email')
                           OR m.mail_activity_type_id IS NOT NULL))""",
        since=since,
    )
    if untouched:
        return SQL("NOT %s AND NOT %s", activity, message)
    return SQL("(%s OR %s)", activity, message)


def due_queries(env, team, now):
    """{due set: (hand-written raw count, the cron's query, the cron's call)} for ``now``.
    The hand-written counts use the team's settings as constants (one team here)."""
    Lead = env["crm.lead"]
    open_lead = SQL("l.active AND l.won_status = 'pending'")
    since = now - timedelta(days=team.stale_days)
    grace = now - timedelta(days=team.stale_grace_days)
    domain = [("qualification_check_at", "<=", now)]
    order = "qualification_check_at, id"
    stale = Lead._stale_due_sql(now)
    return {
        "qualification": (
            SQL("SELECT count(*) FROM crm_lead WHERE qualification_check_at <= %s", now),
            Lead.with_context(active_test=False)._search(domain, order=order).select(),
            lambda: list(Lead.with_context(active_test=False)._search(domain, order=order)),
        ),
        "stale unflag": (
            SQL(
                """SELECT count(*) FROM crm_lead l WHERE l.stale_date IS NOT NULL
                AND (NOT (%s) OR l.date_last_stage_update >= l.stale_date OR %s)""",
                open_lead,
                touched_sql(SQL("l.stale_date")),
            ),
            stale["unflag"],
            lambda: Lead._stale_execute(stale["unflag"]),
        ),
        "stale flag": (
            SQL(
                """SELECT count(*) FROM crm_lead l
                WHERE l.team_id = %s AND %s AND l.stale_date IS NULL
                  AND l.date_last_stage_update < %s AND %s""",
                team.id,
                open_lead,
                since,
                touched_sql(since, untouched=True),
            ),
            stale["flag"],
            lambda: Lead._stale_execute(stale["flag"]),
        ),
        "stale lose": (
            SQL(
                """SELECT count(*) FROM crm_lead l
                WHERE l.stale_date <= %s AND l.team_id = %s AND %s AND %s""",
                grace,
                team.id,
                open_lead,
                touched_sql(SQL("l.stale_date"), untouched=True),
            ),
            stale["lose"],
            lambda: Lead._stale_execute(stale["lose"]),
        ),
    }


def explain(env, query):
    """(one-line summary, whole plan) of EXPLAIN (ANALYZE, BUFFERS) ``query``."""
    plan = [row[0] for row in env.execute_query(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", query))]
    total = buffers = ""
    scans = []
    for line in plan:
        if match := re.search(r"Execution Time: ([\d.]+) ms", line):
            total = float(match[1])
        elif not buffers and (match := re.search(r"Buffers: (.*)", line)):
            buffers = match[1]
        elif match := re.search(r"Rows Removed by Filter: (\d+)", line):
            if scans:
                scans[-1] += f" removed={int(match[1]):,}"
        elif match := re.search(
            r"(?:->\s+)?(\S[^(]*?Scan[^(]*?)\s+\(cost=.*actual time=\S+ rows=(\d+) loops=(\d+)",
            line,
        ):
            scans.append(f"{match[1]} rows={int(match[2]):,} loops={int(match[3]):,}")
    on_leads = [scan for scan in scans if " on crm_lead " in scan]
    seq = [scan for scan in on_leads if "Seq Scan" in scan]
    index = [scan for scan in on_leads if "Index" in scan or "Bitmap" in scan]
    jit = " JIT" if any(line.startswith("JIT:") for line in plan) else ""
    summary = (
        f"{total:8.1f} ms{jit} | crm_lead: "
        f"{'SEQ SCAN' if seq else 'index' if index else '-'} | buffers {buffers} | "
        + "; ".join(scans)
    )
    return summary, plan


def timed(method, name, spent):
    """``method``, adding the time of its calls to ``spent[name]``."""

    def wrapper(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    return wrapper


@contextmanager
def timed_methods(spent, *targets):
    """Time the calls of the given (class, method name) pairs into ``spent``."""
    with ExitStack() as stack:
        for cls, name in targets:
            stack.enter_context(patch.object(cls, name, timed(getattr(cls, name), name, spent)))
        yield spent


def run_cron(registry, method, steps):
    """One run of the cron ``method`` (it commits): (seconds, leads done, time per step)."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Lead = type(env["crm.lead"])
        targets = [(Lead, step) for step in steps]
        targets += [
            (Lead, "try_lock_for_update"),
            (type(env["ir.cron"]), "_commit_progress"),
            (type(env["mail.mail"]), "send"),  # at commit: the emails of the notifications
        ]
        with timed_methods({}, *targets) as spent:
            start = time.perf_counter()
            done = getattr(env["crm.lead"], method)()
            elapsed = time.perf_counter() - start
        cr.commit()
    return elapsed, done, spent


def stock_costs(registry, team_id, sample):
    """Per lead, (seconds, of which at commit) of each notification made the plain ORM way,
    one lead at a time, on ``sample`` settled leads (after 10 for warm-up), then committed
    like the crons' batches: the commit flushes, and sends the notification emails. Each
    kind gets its own leads (settled leads: no due set changes)."""
    qualify = "crm_regulation.mail_activity_type_qualify"

    def activity(lead):  # no assignment email: the watcher sends none either
        lead.with_context(mail_activity_quick_update=True).activity_schedule(
            qualify, summary="Qualify", user_id=lead.user_id.id
        )

    def message(lead):
        lead.message_post(
            body=Markup("<p>%s</p>") % "Stock note",
            partner_ids=lead.user_id.partner_id.ids,
            subtype_xmlid="mail.mt_note",
        )

    def lose(lead):
        lead.action_set_lost(
            lost_reason_id=lead.team_id.stale_lost_reason_id.id,
            lost_feedback=Markup("<p>Stale</p>"),
        )
        message(lead)

    costs = {}
    kinds = (("activity", activity), ("message", message), ("lose", lose))
    for i, (name, notify) in enumerate(kinds):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            leads = env["crm.lead"].search(
                [("team_id", "=", team_id), ("color", "=", len(SETS) + 1)],
                offset=i * (sample + 10),
                limit=sample + 10,
                order="id",
            )
            for lead in leads[:10]:
                notify(lead)
            cr.commit()
            start = time.perf_counter()
            for lead in leads[10:]:
                notify(lead)
            committing = time.perf_counter()
            cr.commit()
            end = time.perf_counter()
        measured = len(leads[10:])
        costs[name] = ((end - start) / measured, (end - committing) / measured)
    return costs


def spent_line(spent):
    """The time of the timed methods of a cron run, in one line: processing steps, locks,
    commits (flush, then the emails of the notifications sent one by one)."""
    spent = dict(spent)
    commits, send = spent.pop("_commit_progress", 0.0), spent.pop("send", 0.0)
    lock = spent.pop("try_lock_for_update", 0.0)
    steps = ", ".join(f"{name.strip('_')} {seconds:.2f} s" for name, seconds in spent.items())
    return f"{steps}, locks {lock:.2f} s, commits {commits:.2f} s (sending emails {send:.2f} s)"


def count(registry, query):
    with registry.cursor() as cr:
        cr.execute(query)
        return cr.fetchone()[0]


def check(registry, team_id, label, conditions):
    """Print what the cron left, set by set: (set, SQL condition on l, expected count)."""
    for name, condition, expected in conditions:
        got = count(
            registry,
            SQL(
                "SELECT count(*) FROM crm_lead l WHERE l.team_id = %s AND l.color = %s AND %s",
                team_id,
                SETS.index(name) + 1,
                condition,
            ),
        )
        status = "ok" if got == expected else "MISMATCH"
        print(f"  check {label}: {name:17} {got:>7,} / {expected:>7,} {status}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--due-qualification", type=int, default=1000)
    parser.add_argument("--due-flag", type=int, default=1000)
    parser.add_argument("--due-lose", type=int, default=1000)
    parser.add_argument("--due-unflag", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--full-plans", action="store_true", help="print the whole plans")
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)

    print(f"== data: {args.leads:,} open leads in {TEAM!r} ==")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        team, sizes = generate(env, args)
        team_id = team.id
        qualify_type = env.ref("crm_regulation.mail_activity_type_qualify").id
        cr.commit()
        generated = time.perf_counter() - start
    start = time.perf_counter()
    vacuum_analyze(registry)
    print(f"generated in {generated:.1f} s, VACUUM ANALYZE in {time.perf_counter() - start:.1f} s")
    print("sets: " + ", ".join(f"{name} {size:,}" for name, size in sizes.items()))
    print(
        f"team: stale after {STALE_DAYS} days, lost {GRACE_DAYS} days later; "
        f"qualification 24 business hours, reminder 4 hours before"
    )

    print(f"\n== find what is due (median of {args.rounds}) and EXPLAIN (ANALYZE, BUFFERS) ==")
    raw = {}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        queries = due_queries(env, env["crm.team"].browse(team_id), cr.now())
        plans = []
        for name, (hand, cron_query, cron_call) in queries.items():
            wrapped = SQL("SELECT count(*) FROM (%s) AS due", cron_query)
            for query in (hand, wrapped):  # warm-up: the same pages as the measured runs
                env.execute_query(query)
            cron_call()
            hand_time, hand_count = median_time(lambda q=hand: env.execute_query(q), args.rounds)
            wrap_time, wrap_count = median_time(lambda q=wrapped: env.execute_query(q), args.rounds)
            find_time, found = median_time(cron_call, args.rounds)
            raw[name] = hand_time
            print(f"{name}:")
            print(
                f"  raw count, hand-written     : {hand_count[0][0]:>7,} leads "
                f"{hand_time * 1000:8.2f} ms"
            )
            print(
                f"  raw count of the cron query : {wrap_count[0][0]:>7,} leads "
                f"{wrap_time * 1000:8.2f} ms"
            )
            print(
                f"  cron's find step            : {len(found):>7,} leads "
                f"{find_time * 1000:8.2f} ms  ratio to hand count {find_time / hand_time:6.2f}, "
                f"to its own count {find_time / wrap_time:5.2f}"
            )
            for label, query in (("hand", hand), ("cron", cron_query)):
                summary, plan = explain(env, query)
                print(f"  EXPLAIN {label}: {summary}")
                plans.append((f"{name} ({label})", plan))
        cr.rollback()
    if args.full_plans:
        for title, plan in plans:
            print(f"\n-- plan: {title}")
            print("\n".join(plan))

    print(f"\n== plain-ORM cost of a notification ({args.sample} leads, committed) ==")
    costs = stock_costs(registry, team_id, args.sample)
    for name, (cost, at_commit) in costs.items():
        print(f"  {name:8}: {cost * 1000:6.2f} ms/lead, of which {at_commit * 1000:5.2f} at commit")
    costs = {name: cost for name, (cost, _at_commit) in costs.items()}

    print("\n== qualification watcher ==")
    activities = SQL("SELECT count(*) FROM mail_activity WHERE activity_type_id = %s", qualify_type)
    before = count(registry, activities)
    steps = ("_qualification_notify",)
    elapsed, done, spent = run_cron(registry, "_cron_qualification_watcher", steps)
    model = raw["qualification"] + sizes["near"] * costs["activity"]
    model += sizes["overdue"] * costs["message"]
    print(
        f"run 1: {done:,} leads in {elapsed:.2f} s = {elapsed * 1000 / max(done, 1):.2f} ms/lead"
        f" | {count(registry, activities) - before:,} activities created"
    )
    print(f"  of which: {spent_line(spent)}")
    print(
        f"  plain-ORM estimate (raw count + {sizes['near']:,} activities + {sizes['overdue']:,} "
        f"messages): {model:.2f} s; ratio cron / estimate {elapsed / model:.2f}"
    )
    elapsed2, done2, _spent = run_cron(registry, "_cron_qualification_watcher", steps)
    print(
        f"run 2: {done2:,} leads in {elapsed2 * 1000:.1f} ms "
        f"({'idempotent' if not done2 else 'NOT IDEMPOTENT'})"
    )
    warned = SQL("l.qualification_state = 'warned' AND l.qualification_check_at > now()")
    overdue = SQL("l.qualification_state = 'overdue' AND l.qualification_check_at IS NULL")
    check(
        registry,
        team_id,
        "qualification",
        [
            ("near", warned, sizes["near"]),
            ("overdue", overdue, sizes["overdue"]),
            ("pending", SQL("l.qualification_state = 'pending'"), sizes["pending"]),
        ],
    )

    print("\n== stale-lead watcher ==")
    steps = ("_stale_unflag", "_stale_flag", "_stale_lose")
    elapsed, done, spent = run_cron(registry, "_cron_stale_leads", steps)
    due = sizes["flag"] + sizes["lose"] + sizes["unflag"]
    model = sum(raw[name] for name in ("stale unflag", "stale flag", "stale lose"))
    model += sizes["flag"] * costs["message"] + sizes["lose"] * costs["lose"]
    print(
        f"run 1: {done:,} leads in {elapsed:.2f} s = {elapsed * 1000 / max(done, 1):.2f} ms/lead"
        f" ({due:,} due)"
    )
    print(f"  of which: {spent_line(spent)}")
    print(
        f"  plain-ORM estimate (raw counts + {sizes['flag']:,} messages + {sizes['lose']:,} "
        f"losses with a message, unflag free): {model:.2f} s; ratio cron / estimate "
        f"{elapsed / model:.2f}"
    )
    elapsed2, done2, _spent = run_cron(registry, "_cron_stale_leads", steps)
    print(
        f"run 2: {done2:,} leads in {elapsed2 * 1000:.1f} ms "
        f"({'idempotent' if not done2 else 'NOT IDEMPOTENT'})"
    )
    check(
        registry,
        team_id,
        "stale",
        [
            ("flag", SQL("l.stale_date IS NOT NULL AND l.active"), sizes["flag"]),
            ("lose", SQL("NOT l.active AND l.won_status = 'lost'"), sizes["lose"]),
            ("unflag", SQL("l.stale_date IS NULL AND l.active"), sizes["unflag"]),
            ("waiting", SQL("l.stale_date IS NOT NULL AND l.active"), NOT_DUE["waiting"]),
            ("touched_activity", SQL("l.stale_date IS NULL"), NOT_DUE["touched_activity"]),
            ("touched_comment", SQL("l.stale_date IS NULL"), NOT_DUE["touched_comment"]),
        ],
    )


if __name__ == "__main__":
    main()
