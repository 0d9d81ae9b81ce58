"""Benchmark of the duplicate sweep, measured in one run against one hand-written SQL
grouping of the same keys.

One database (crm + crm_regulation) gets ``--leads`` leads and ``--contacts`` contacts
(set-based SQL, bulk load): leads with a customer (company name, contact name), e-mail,
phone (E.164 key), salesperson and team, tags on one in three, a third of them won or
lost; contacts as companies of four people, people with e-mail, phone and a salesperson for
one in ten. Duplicates: about 3 % of the leads share a phone, 2 % an e-mail, 4 % a company
name with another open lead; about 2 % of the contacts share a phone or e-mail, 3 % of the
companies a name.

Measured (median of ``--rounds``):

    the hand-written grouping: for leads (open) and contacts (active), and each key, one
    ``SELECT company_id, key, array_agg(id) ... GROUP BY company_id, key HAVING count(*) > 1``
    fetched in full (six statements, the best of JIT on and off);

    the sweep's full pass as the cron runs it (``crm.duplicate.sweep._cron_sweep``: batches,
    locks, upserts of the groups and their members, a commit per batch), the first pass
    (every group created) and a rerun (the groups found again, nothing changed).

Printed: the times, the groups found, the ratios.
"""

import argparse
import time

from bench_watchers import median_time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config


def build(env, leads, contacts, salespeople):
    """The teams, salespeople, tags, leads and contacts (set-based)."""
    Team, Users = env["crm.team"], env["res.users"]
    teams = Team.create([{"name": f"Bench Team {i}"} for i in range(8)])
    group = env.ref("crm_regulation.group_salesperson")
    users = Users.with_context(no_reset_password=True, tracking_disable=True).create(
        [
            {"name": f"Bench Salesperson {i}", "login": f"bench_sp_{i}", "group_ids": group.ids}
            for i in range(salespeople)
        ]
    )
    for index, user in enumerate(users):
        teams[index % len(teams)].member_ids = [(4, user.id)]
    tags = env["crm.tag"].create([{"name": f"Bench Tag {i}"} for i in range(10)])
    stage = env["crm.stage"].search([("is_won", "=", False)], limit=1)
    won = env["crm.stage"].search([("is_won", "=", True)], limit=1)
    env.flush_all()
    cr = env.cr
    # bulk load: the foreign keys' checks would plan for the empty tables of the start
    cr.execute("SET LOCAL session_replication_role = replica")
    # n: the lead's number; its keys repeat those of lead n - 1 for a share of the leads
    # (phone: n % 33 = 0, e-mail: n % 50 = 0, company: n % 25 = 0); one lead in six won, one
    # in six lost (archived)
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, won_status, team_id, user_id, company_id,
                              stage_id, probability, expected_revenue, priority,
                              partner_name, company_key, contact_name, email_from,
                              email_normalized, phone, phone_sanitized, date_open,
                              create_date, write_date, create_uid, write_uid)
        SELECT 'Bench lead ' || n, 'opportunity', n %% 6 <> 5,
               CASE n %% 6 WHEN 4 THEN 'won' WHEN 5 THEN 'lost' ELSE 'pending' END,
               (%(teams)s::int[])[1 + n %% 8], (%(users)s::int[])[1 + n %% %(nusers)s],
               %(company)s, CASE WHEN n %% 6 = 4 THEN %(won)s ELSE %(stage)s END,
               CASE n %% 6 WHEN 4 THEN 100 WHEN 5 THEN 0 ELSE 10 + n %% 80 END,
               1000 * (1 + n %% 500), '1',
               'ООО «Компания ' || c || '»', 'компания ' || c, 'Person ' || n,
               'Person ' || e || ' <person' || e || '@example.com>',
               'person' || e || '@example.com',
               '+7 (900) ' || lpad(p::text, 7, '0'), '+7900' || lpad(p::text, 7, '0'),
               now() AT TIME ZONE 'UTC' - interval '100 days',
               now() AT TIME ZONE 'UTC' - (n %% 365) * interval '1 day',
               now() AT TIME ZONE 'UTC', 1, 1
          FROM generate_series(1, %(count)s) AS n,
               LATERAL (SELECT CASE WHEN n %% 33 = 0 THEN n - 6 ELSE n END AS p,
                               CASE WHEN n %% 50 = 0 THEN n - 6 ELSE n END AS e,
                               CASE WHEN n %% 25 = 0 THEN n - 6 ELSE n END AS c) AS k
        """,
        {
            "teams": teams.ids,
            "users": users.ids,
            "nusers": len(users),
            "company": env.company.id,
            "stage": stage.id,
            "won": won.id or stage.id,
            "count": leads,
        },
    )
    cr.execute(
        """
        INSERT INTO crm_tag_rel (lead_id, tag_id)
        SELECT id, (%s::int[])[1 + id %% 10] FROM crm_lead
         WHERE name LIKE 'Bench lead %%' AND id %% 3 = 0
        """,
        [tags.ids],
    )
    companies = contacts // 5
    # companies: a name repeated for n % 33 = 0
    cr.execute(
        """
        WITH ids AS (SELECT nextval('res_partner_id_seq') AS id, n
                       FROM generate_series(1, %s) AS n)
        INSERT INTO res_partner (id, commercial_partner_id, name, complete_name, company_key,
                                 is_company, active, type, email, email_normalized,
                                 create_date, write_date, create_uid, write_uid, lang)
        SELECT id, id, 'Компания ' || c || ', ООО', 'Компания ' || c || ', ООО',
               'компания ' || c, TRUE, TRUE, 'contact', 'info' || n || '@company.example',
               'info' || n || '@company.example', now(), now(), 1, 1, 'en_US'
          FROM ids, LATERAL (SELECT CASE WHEN n %% 33 = 0 THEN n - 1 ELSE n END AS c) AS k
        RETURNING id
        """,
        [companies],
    )
    company_ids = [row[0] for row in cr.fetchall()]
    # people: phone and e-mail repeated for n % 50 = 0 (another person of the same number)
    cr.execute(
        """
        INSERT INTO res_partner (name, complete_name, is_company, active, type, parent_id,
                                 commercial_partner_id, email, email_normalized, phone,
                                 phone_sanitized, user_id, create_date, write_date,
                                 create_uid, write_uid, lang)
        SELECT 'Person ' || n, 'Person ' || n, FALSE, TRUE, 'contact', c.id, c.id,
               'person' || d || '@example.com', 'person' || d || '@example.com',
               '+7 (901) ' || lpad(d::text, 7, '0'), '+7901' || lpad(d::text, 7, '0'),
               CASE WHEN n %% 10 = 0 THEN (%(users)s::int[])[1 + n %% %(nusers)s] END,
               now(), now(), 1, 1, 'en_US'
          FROM generate_series(1, %(persons)s) AS n
          JOIN LATERAL (SELECT (%(companies)s::int[])[1 + n %% %(n)s] AS id) c ON TRUE
          JOIN LATERAL (SELECT CASE WHEN n %% 50 = 0 THEN n - 3 ELSE n END AS d) k ON TRUE
        """,
        {
            "n": companies,
            "companies": company_ids,
            "persons": contacts - companies,
            "users": users.ids,
            "nusers": len(users),
        },
    )


def hand_sql(cr, jit):
    """One hand-written grouping per model and key, fetched in full: the groups found."""
    # (the addon is importable once the configuration names the addons path)
    from odoo.addons.crm_regulation.models.crm_duplicate_sweep import (  # noqa: PLC0415
        KEY_COLUMNS,
        TABLES,
    )

    cr.execute("SELECT set_config('jit', %s, true)", ["on" if jit else "off"])
    found = 0
    for table, condition, _rel, _member in TABLES.values():
        for column in KEY_COLUMNS.values():
            cr.execute(
                f"""
                SELECT company_id, {column}, array_agg(id ORDER BY id)
                  FROM {table}
                 WHERE {column} IS NOT NULL AND {condition.format(t="")}
                 GROUP BY company_id, {column}
                HAVING count(*) > 1
                """
            )
            found += len(cr.fetchall())
    cr.rollback()
    return found


def heap_fetches(registry):
    """The heap fetches of the first range of the sweep over the open leads' phones (0: the
    visibility map lets it read the index only)."""
    with registry.cursor() as cr:
        cr.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT phone_sanitized FROM crm_lead"
            " WHERE phone_sanitized IS NOT NULL AND active AND won_status = 'pending'"
            " ORDER BY phone_sanitized LIMIT 50000"
        )
        plan = cr.fetchone()[0][0]["Plan"]
        while "Heap Fetches" not in plan and plan.get("Plans"):
            plan = plan["Plans"][0]
        return plan.get("Heap Fetches")


def sweep(registry):
    """A full pass of the sweep as the cron runs it (commits per batch): the groups."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["crm.duplicate.sweep"]._cron_sweep()
        cr.execute("SELECT count(*) FROM crm_duplicate_group WHERE state = 'to_review'")
        return cr.fetchone()[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=500_000)
    parser.add_argument("--salespeople", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    start = time.perf_counter()
    with registry.cursor() as cr:
        build(api.Environment(cr, SUPERUSER_ID, {}), args.leads, args.contacts, args.salespeople)
    # as autovacuum leaves a table: statistics, and the visibility map (index-only scans;
    # right after the load, a snapshot held elsewhere may keep VACUUM from marking the new
    # rows visible to all: done again until it does)
    for _attempt in range(10):
        with registry.cursor() as cr:
            cr._cnx.autocommit = True
            for table in ("crm_lead", "res_partner", "crm_tag_rel"):
                cr.execute(f"VACUUM ANALYZE {table}")
            cr._cnx.autocommit = False
        if not heap_fetches(registry):
            break
        time.sleep(3)
    print(f"heap fetches of an index-only range scan: {heap_fetches(registry)}")
    print(
        f"== {args.leads:,} leads, {args.contacts:,} contacts, {args.salespeople} salespeople "
        f"(generated in {time.perf_counter() - start:.0f} s) =="
    )
    with registry.cursor() as cr:
        figures = {
            jit: median_time(lambda jit=jit: hand_sql(cr, jit), args.rounds)
            for jit in (True, False)
        }
    jit = min(figures, key=lambda key: figures[key][0])
    sql_t, sql_groups = figures[jit]
    first_t = time.perf_counter()
    first_groups = sweep(registry)
    first_t = time.perf_counter() - first_t
    rerun_t, rerun_groups = median_time(lambda: sweep(registry), args.rounds)
    print(f"heap fetches of an index-only range scan, after the sweeps: {heap_fetches(registry)}")
    print("\n| measure | time | groups | ratio to SQL |")
    print("|---|---|---|---|")
    print(
        f"| hand-written SQL grouping (6 statements, JIT {'on' if jit else 'off'}) "
        f"| {sql_t:.2f} s | {sql_groups:,} | 1.00 |"
    )
    print(
        f"| (the same, JIT {'off' if jit else 'on'}) | {figures[not jit][0]:.2f} s "
        f"| {figures[not jit][1]:,} | |"
    )
    print(f"| sweep, first pass | {first_t:.2f} s | {first_groups:,} | {first_t / sql_t:.2f} |")
    print(f"| sweep, rerun | {rerun_t:.2f} s | {rerun_groups:,} | {rerun_t / sql_t:.2f} |")


if __name__ == "__main__":
    main()
