"""Benchmark of the install of crm_regulation on a big database, measured in one run against
the install on an empty one.

From a database with crm only (no demo data, ``--base-db``), two copies (``CREATE
DATABASE ... TEMPLATE``):

* ``empty``: crm only, no lead;
* ``leads``: crm with ``--leads`` leads (default 1,000,000) as users have them: a customer,
  an e-mail, a phone, a salesperson, a tag each; 15 % won, 15 % lost, 8 % archived, the
  rest open in the stages of a team (``generate.py``'s funnel). The table is then packed
  (``VACUUM FULL``, as after a restore: no free room for HOT updates, the worst case) and
  analyzed. That copy is kept as a template (``--template-db``) for the next runs
  (``--reuse-template``): generating a million leads takes minutes.

Each install is ``odoo-bin -i crm_regulation --stop-after-init`` on a fresh copy, in its
own process, timed from the outside (``--rounds``: median of several). Printed: both
times, the difference and the difference per million leads (target: < 60 s more than on
an empty database for 1,000,000 leads); the install's steps (from its log); with
pg_stat_statements loaded by the server, the slowest statements of the big install.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise

from generate import generate_leads

import odoo.release
from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tools import config

ODOO_BIN = os.path.join(os.path.dirname(os.path.dirname(odoo.release.__file__)), "odoo-bin")
TAGS = ["Product", "Services", "Information", "Design", "Training", "Consulting"]
PARTNERS_PER_LEAD = 4  # one customer for every 4 leads
# steps of the install, from the log lines that start them ("LAST " + text: the last line
# that starts with the text)
STEPS = [
    ("Loading module crm_regulation", "pre_init_hook (outcome columns)"),
    (
        "module crm_regulation: creating or updating database tables",
        "tables, columns, indexes, keys",
    ),
    ("loading crm_regulation/", "data files"),
    ("LAST loading crm_regulation/", "last data file + post_init: backfill"),
    ("crm_regulation: stage history opened", "post_init: business-hour fill"),
    ("crm_regulation: business hours of", "rest"),
    ("Module crm_regulation loaded in", None),
]
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \d+ \w+ \S+ \S+: (.*)$")


# ---------------------------------------------------------------------------------------
# databases
# ---------------------------------------------------------------------------------------
def admin(query, params=None):
    """Run ``query`` outside a transaction on the server's maintenance database."""
    sql_db.close_all()  # no connection of ours may stay on a template
    with sql_db.db_connect("postgres").cursor() as cr:
        cr._cnx.autocommit = True  # CREATE DATABASE needs it
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def db_exists(name):
    return bool(admin("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def drop_db(name):
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_db(template, name):
    drop_db(name)
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def execute(dbname, query, autocommit=False):
    with sql_db.db_connect(dbname).cursor() as cr:
        if autocommit:
            cr._cnx.autocommit = True  # VACUUM needs it
        cr.execute(query)
        rows = cr.fetchall() if cr.description else None
    sql_db.close_db(dbname)
    return rows


def has_pg_stat_statements():
    rows = admin("SELECT current_setting('shared_preload_libraries')")
    return "pg_stat_statements" in rows[0][0]


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
def populate(env, count, seed=42):
    """``count`` leads as users have them (see the module's docstring); set-based SQL."""
    lead_ids = generate_leads(env, count, with_history=False, seed=seed)
    cr = env.cr
    won_stage = env["crm.stage"].search([("name", "=", "Bench Won")], limit=1).id
    reasons = env["crm.lost.reason"].search([]).ids
    tags = env["crm.tag"].search([("name", "in", TAGS)])
    for name in set(TAGS) - set(tags.mapped("name")):
        tags |= env["crm.tag"].create({"name": name})
    env.flush_all()
    cr.execute(
        """
        INSERT INTO res_partner (name, complete_name, email, phone, active, type, is_company,
                                 lang, create_date, write_date, create_uid, write_uid)
        SELECT 'Bench Customer ' || g, 'Bench Customer ' || g,
               'customer' || g || '@example.com', '+32 470 ' || lpad(g::text, 6, '0'),
               TRUE, 'contact', g %% 3 = 0, 'en_US',
               now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
          FROM generate_series(1, %s) AS g
        RETURNING id
        """,
        [max(1, count // PARTNERS_PER_LEAD)],
    )
    partner_ids = [row[0] for row in cr.fetchall()]
    # one UPDATE for contacts and outcomes; bucket id % 100: < 15 won, < 30 lost,
    # < 38 archived, the rest open
    cr.execute(
        """
        UPDATE crm_lead l
           SET partner_id = p.id,
               contact_name = p.name, partner_name = 'Company ' || (l.id %% 5000),
               email_from = 'lead' || l.id || '@example.com',
               email_normalized = 'lead' || l.id || '@example.com',
               phone = '+32 470 ' || lpad(l.id::text, 7, '0'),
               phone_sanitized = '+32470' || lpad(l.id::text, 7, '0'),
               type = CASE WHEN l.id %% 7 = 0 THEN 'lead' ELSE 'opportunity' END,
               stage_id = CASE WHEN l.id %% 100 < 15 THEN %(won)s ELSE l.stage_id END,
               probability = CASE WHEN l.id %% 100 < 15 THEN 100
                                  WHEN l.id %% 100 < 30 THEN 0 ELSE l.probability END,
               active = l.id %% 100 NOT BETWEEN 15 AND 37,
               lost_reason_id = CASE WHEN l.id %% 100 BETWEEN 15 AND 29
                                     THEN (%(reasons)s::int[])[1 + l.id %% %(nreasons)s] END,
               date_closed = CASE WHEN l.id %% 100 < 38
                                  THEN l.date_last_stage_update + interval '3 days' END,
               won_status = CASE WHEN l.id %% 100 < 15 THEN 'won'
                                 WHEN l.id %% 100 < 30 THEN 'lost' ELSE 'pending' END
          FROM (SELECT id, name, row_number() OVER (ORDER BY id) - 1 AS n
                  FROM res_partner WHERE id = ANY(%(partners)s)) AS p
         WHERE l.id = ANY(%(ids)s) AND p.n = l.id %% %(npartners)s
        """,
        {
            "won": won_stage,
            "reasons": reasons,
            "nreasons": len(reasons),
            "partners": partner_ids,
            "npartners": len(partner_ids),
            "ids": lead_ids,
        },
    )
    cr.execute(
        """
        INSERT INTO crm_tag_rel (lead_id, tag_id)
        SELECT id, (%s::int[])[1 + id %% %s] FROM unnest(%s::int[]) AS id
        """,
        [tags.ids, len(tags), lead_ids],
    )
    env.invalidate_all()
    return len(lead_ids)


def make_template(base, template, leads):
    copy_db(base, template)
    start = time.perf_counter()
    with Registry(template).cursor() as cr:
        populate(api.Environment(cr, SUPERUSER_ID, {}), leads)
    Registry.delete(template)
    generated = time.perf_counter() - start
    execute(template, "VACUUM FULL crm_lead", autocommit=True)
    execute(template, "VACUUM ANALYZE", autocommit=True)
    print(
        f"template {template}: {leads:,} leads generated in {generated:.0f} s, "
        f"packed and analyzed in {time.perf_counter() - start - generated:.0f} s"
    )


# ---------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------
def install(conf, template, dbname, log_path, statements):
    """Install crm_regulation on a fresh copy of ``template``; returns the seconds."""
    copy_db(template, dbname)
    if statements:
        execute(dbname, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        execute(dbname, "SELECT pg_stat_statements_reset()")
    sql_db.close_all()
    if os.path.exists(log_path):
        os.remove(log_path)  # Odoo appends to its log file
    command = [sys.executable, ODOO_BIN, "-c", conf, "-d", dbname, "-i", "crm_regulation"]
    command += ["--stop-after-init", "--no-http", "--log-level=info", f"--logfile={log_path}"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def steps(log_path):
    """[(step, seconds)] of an install, from the timestamps of its log lines."""
    marks = {}
    with open(log_path, encoding="utf-8") as log:
        for line in log:
            match = LOG_LINE.match(line)
            if not match:
                continue
            for needle, _label in STEPS:
                last = needle.startswith("LAST ")
                if match.group(2).startswith(needle.removeprefix("LAST ")) and (
                    last or needle not in marks
                ):
                    marks[needle] = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    found = [(needle, label) for needle, label in STEPS if needle in marks]
    return [
        (label, (marks[after[0]] - marks[needle]).total_seconds())
        for (needle, label), after in pairwise(found)
    ]


def slowest_statements(dbname, limit):
    return execute(
        dbname,
        f"""SELECT total_exec_time / 1000, calls, rows,
                   left(regexp_replace(query, '\\s+', ' ', 'g'), 90)
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query NOT ILIKE '%%pg_stat_statements%%'
             ORDER BY total_exec_time DESC LIMIT {int(limit)}""",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("--base-db", required=True, help="a database with crm only")
    parser.add_argument("--leads", type=int, default=1000000)
    parser.add_argument("--template-db", help="default: BASE_DB_LEADS")
    parser.add_argument(
        "--reuse-template",
        action="store_true",
        help="use the template with leads of a previous run when it exists",
    )
    parser.add_argument("--rounds", type=int, default=1, help="installs per side (median)")
    parser.add_argument("--statements", type=int, default=8, help="slowest statements shown")
    parser.add_argument("--keep", action="store_true", help="keep the installed copies")
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    conf = os.path.abspath(args.config)
    template = args.template_db or f"{args.base_db}_{args.leads}"
    logdir = os.path.join(os.path.dirname(conf), "bench_install_logs")
    os.makedirs(logdir, exist_ok=True)
    statements = args.statements and has_pg_stat_statements()

    run_start = time.perf_counter()
    if not (args.reuse_template and db_exists(template)):
        make_template(args.base_db, template, args.leads)
    else:
        print(f"template {template}: reused")
    times = {"empty": [], "leads": []}
    copies = {"empty": f"{args.base_db}_install_empty", "leads": f"{template}_install"}
    sources = {"empty": args.base_db, "leads": template}
    for round_ in range(args.rounds):
        # alternated, so that both sides see the same machine state
        for side in ("empty", "leads"):
            log_path = os.path.join(logdir, f"{side}_{round_}.log")
            seconds = install(conf, sources[side], copies[side], log_path, statements)
            times[side].append(seconds)
            print(f"round {round_ + 1}: install on {side:5s}: {seconds:6.1f} s ({log_path})")

    empty, full = statistics.median(times["empty"]), statistics.median(times["leads"])
    print(f"\n== install of crm_regulation, median of {args.rounds} ==")
    print(f"{'crm only, no leads':38s} {empty:8.1f} s")
    print(f"{f'crm with {args.leads:,} leads':38s} {full:8.1f} s")
    print(f"{'difference':38s} {full - empty:8.1f} s   (target < 60 s for 1,000,000)")
    print(f"{'per million leads':38s} {(full - empty) * 1e6 / args.leads:8.1f} s")

    print(f"\n== steps of the install on {args.leads:,} leads (last round, from its log) ==")
    for label, seconds in steps(os.path.join(logdir, f"leads_{args.rounds - 1}.log")):
        print(f"{label:38s} {seconds:8.1f} s")
    if statements:
        print(f"\n== slowest statements of the install on {args.leads:,} leads ==")
        print(f"{'seconds':>8s} {'calls':>8s} {'rows':>9s}  statement")
        for seconds, calls, rows, query in slowest_statements(copies["leads"], args.statements):
            print(f"{seconds:8.2f} {calls:8d} {rows:9d}  {query}")
    if not args.keep:
        for name in copies.values():
            drop_db(name)
    print(f"\nbenchmark run: {time.perf_counter() - run_start:.0f} s")


if __name__ == "__main__":
    main()
