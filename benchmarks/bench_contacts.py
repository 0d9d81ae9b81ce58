"""Benchmark of the role matrix on contacts, measured in one run against Odoo's stock rules.

One database (crm + crm_regulation) gets ``--leads`` leads (set-based SQL, generate.py)
spread over a three-level team tree and ``--salespeople`` salespeople (bench_roles.build),
and ``--contacts`` contacts: customer companies of four people each, one person per two
leads as the lead's customer (with e-mail, phone and, for one contact in ten, a salesperson).
Measured as a Salesperson and as the Head of sales of a regional team, median of
``--rounds``:

    the Contacts list: ``web_search_read`` of the first 80 contacts (the list's fields),
    and its count (``search_count``),

under the role matrix's rules, and the same user and call under Odoo's stock rules (the role
matrix's contact rules off: every contact). Printed: the times, the contacts seen, the
ratios, the plan of the salesperson's count.
"""

import argparse
import time

from bench_roles import build
from bench_watchers import median_time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

SPEC = {
    "complete_name": {},
    "email": {},
    "phone": {},
    "user_id": {"fields": {"display_name": {}}},
    "city": {},
    "country_id": {"fields": {"display_name": {}}},
    "company_id": {"fields": {"display_name": {}}},
}
CONTACT_RULES = (
    "crm_regulation.res_partner_rule_crm_regulation",
    "crm_regulation.res_partner_rule_crm_regulation_write",
)


def add_contacts(env, count):
    """``count`` contacts: companies of four people each; each person the customer of two
    leads (set-based)."""
    cr = env.cr
    companies = count // 5
    # bulk load: the foreign keys' checks would plan for the empty table of the start and
    # scan it per row (quadratic); the rows below are consistent by construction
    cr.execute("SET LOCAL session_replication_role = replica")
    # each company its own commercial entity, set at insert (an UPDATE would rewrite every
    # index of res_partner, trigram ones included)
    cr.execute(
        """
        WITH ids AS (SELECT nextval('res_partner_id_seq') AS id, g
                       FROM generate_series(1, %s) AS g)
        INSERT INTO res_partner (id, commercial_partner_id, name, complete_name, is_company,
                                 active, type, email, create_date, write_date, create_uid,
                                 write_uid, lang)
        SELECT id, id, 'Bench Company ' || g, 'Bench Company ' || g, TRUE, TRUE, 'contact',
               'info' || g || '@company.example', now(), now(), 1, 1, 'en_US'
          FROM ids
        RETURNING id
        """,
        [companies],
    )
    company_ids = [row[0] for row in cr.fetchall()]
    cr.execute("SELECT id FROM res_users WHERE login LIKE 'bench_sp_%%' ORDER BY id")
    user_ids = [row[0] for row in cr.fetchall()]
    cr.execute(
        """
        INSERT INTO res_partner (name, complete_name, is_company, active, type, parent_id,
                                 commercial_partner_id, email, phone, user_id, create_date,
                                 write_date, create_uid, write_uid, lang)
        SELECT 'Person ' || g, 'Bench Company ' || (1 + g %% %(n)s) || ', Person ' || g,
               FALSE, TRUE, 'contact', c.id, c.id,
               'person' || g || '@example.com', '+7 900 ' || lpad(g::text, 7, '0'),
               CASE WHEN g %% 10 = 0 THEN (%(users)s::int[])[1 + g %% %(nusers)s] END,
               now(), now(), 1, 1, 'en_US'
          FROM generate_series(1, %(persons)s) AS g
          JOIN LATERAL (SELECT (%(companies)s::int[])[1 + g %% %(n)s] AS id) c ON TRUE
        """,
        {
            "n": companies,
            "companies": company_ids,
            "persons": count - companies,
            "users": user_ids,
            "nusers": len(user_ids),
        },
    )
    cr.execute(
        """
        WITH people AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
              FROM res_partner WHERE name LIKE 'Person %'
        ), total AS (SELECT count(*) AS c FROM people)
        UPDATE crm_lead l
           SET partner_id = p.id, email_from = 'person' || p.id || '@example.com',
               phone = '+7 900 ' || p.id
          FROM people p, total
         WHERE p.n = (l.id / 2) % total.c AND l.name LIKE 'Bench lead %'
        """
    )


def set_mode(env, regulated):
    for xmlid in CONTACT_RULES:
        env.ref(xmlid).active = regulated
    env.flush_all()
    env.registry.clear_cache()


def measure(registry, uid, rounds):
    with registry.cursor() as cr:
        env = api.Environment(cr, uid, {})
        Partner = env["res.partner"]

        def page():
            env.invalidate_all()
            return Partner.web_search_read([], SPEC, limit=80, count_limit=10001)

        def count():
            env.invalidate_all()
            return Partner.search_count([])

        page()  # warm caches
        page_t, _result = median_time(page, rounds)
        count_t, seen = median_time(count, rounds)
        return page_t, count_t, seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=500_000)
    parser.add_argument("--salespeople", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    start = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        salesperson, head = build(env, args)
        add_contacts(env, args.contacts)
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute("VACUUM ANALYZE crm_lead")
        cr.execute("VACUUM ANALYZE res_partner")
        cr._cnx.autocommit = False
    print(
        f"== {args.leads:,} leads, {args.contacts:,} contacts, {args.salespeople} salespeople "
        f"(generated in {time.perf_counter() - start:.0f} s) =="
    )
    print("\n| user | call | stock rules: time (contacts) | role matrix: time (contacts) | ratio |")
    print("|---|---|---|---|---|")
    for label, uid in (("Salesperson", salesperson), ("Head of sales (5 teams)", head)):
        figures = {}
        for regulated in (False, True):
            with registry.cursor() as cr:
                set_mode(api.Environment(cr, SUPERUSER_ID, {}), regulated)
            figures[regulated] = measure(registry, uid, args.rounds)
        (s_page, s_count, s_seen), (r_page, r_count, r_seen) = figures[False], figures[True]
        print(
            f"| {label} | list (80) | {s_page * 1000:.1f} ms | {r_page * 1000:.1f} ms "
            f"| {r_page / s_page:.2f} |"
        )
        print(
            f"| {label} | count | {s_count * 1000:.1f} ms ({s_seen:,}) | "
            f"{r_count * 1000:.1f} ms ({r_seen:,}) | {r_count / s_count:.2f} |"
        )
    with registry.cursor() as cr:
        env = api.Environment(cr, salesperson, {})
        query = env["res.partner"]._search([])
        sql = query.select("count(*)")
        cr.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql.code, sql.params)
        print("\nplan of the salesperson's count:")
        for (line,) in cr.fetchall():
            print("  " + line)


if __name__ == "__main__":
    main()
