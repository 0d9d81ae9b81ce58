"""Benchmark of the role matrix's record rules, measured in one run against Odoo's stock rule.

One database (crm + crm_regulation) gets ``--leads`` leads (set-based SQL, generate.py),
then spread over a three-level team tree (1 top team, 4 regional teams, 16 local teams)
and ``--salespeople`` salespeople (5% of the leads unassigned). Measured, as a Salesperson
and as the Head of sales of a regional team (5 teams: about a quarter of the leads):

    the pipeline list: ``web_search_read`` of the first 80 opportunities (the list's
    fields) with its ``search_count``, median of ``--rounds``,

once under the role matrix and once, same user and same call, under Odoo's stock rule
("Personal Leads": own and unassigned leads; the role rules off), and once under Odoo's
"All Documents" with a filter that shows the same leads as the role matrix (the rule's own
cost: target <= 1.2). Printed: the times, the rows seen, the ratios, the plan of the head of
sales' first page.

The leads have their stage history (one stay per stage passed): the *Time in Stage* pivot
(``_read_group`` of the stays by stage, average hours and count) is measured the same way,
under the history rule of 19.0.1.4.0 (crm's stock scope: the stays of own and unassigned
leads) and under the lead's scope (``lead_id.regulation_scope = 'readable'``).
"""

import argparse
import time

from bench_watchers import median_time
from generate import generate_leads

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

SPEC = {
    "name": {},
    "partner_id": {"fields": {"display_name": {}}},
    "user_id": {"fields": {"display_name": {}}},
    "team_id": {"fields": {"display_name": {}}},
    "stage_id": {"fields": {"display_name": {}}},
    "expected_revenue": {},
    "probability": {},
}
DOMAIN = [("type", "=", "opportunity")]
ROLE_RULES = (
    "crm_regulation.crm_lead_rule_senior_salesperson",
    "crm_regulation.crm_lead_rule_head_of_sales",
)
# the stage history's rule: the lead's scope, or crm's stock scope as in 19.0.1.4.0
HISTORY_RULE = "crm_regulation.crm_lead_stage_history_rule_scope"
HISTORY_STOCK = "['|', ('lead_id.user_id', '=', user.id), ('lead_id.user_id', '=', False)]"
HISTORY_SCOPED = "[('lead_id.regulation_scope', '=', 'readable')]"


def build(env, args):
    """Team tree, salespeople and the leads spread over them (set-based)."""
    Team, Users = env["crm.team"], env["res.users"]
    top = Team.create({"name": "Bench Top"})
    regions = Team.create([{"name": f"Bench Region {i}", "parent_id": top.id} for i in range(4)])
    local = Team.create(
        [
            {"name": f"Bench Local {r}.{i}", "parent_id": region.id}
            for r, region in enumerate(regions)
            for i in range(4)
        ]
    )
    group = env.ref("crm_regulation.group_salesperson")
    users = Users.with_context(no_reset_password=True, tracking_disable=True).create(
        [
            {
                "name": f"Bench Salesperson {i}",
                "login": f"bench_sp_{i}",
                "group_ids": [(6, 0, group.ids)],
            }
            for i in range(args.salespeople)
        ]
    )
    head = Users.with_context(no_reset_password=True).create(
        {
            "name": "Bench Head",
            "login": "bench_head",
            "group_ids": [(6, 0, env.ref("crm_regulation.group_head_of_sales").ids)],
        }
    )
    regions[0].user_id = head
    teams = regions | local
    for index, user in enumerate(users):
        teams[index % len(teams)].member_ids = [(4, user.id)]
    env.flush_all()
    generate_leads(env, args.leads, with_history=True)
    pairs = [(user.id, teams[index % len(teams)].id) for index, user in enumerate(users)]
    env.cr.execute(
        """
        WITH owners AS (
            SELECT row_number() OVER () - 1 AS n, u, t
              FROM unnest(%(users)s::int[], %(teams)s::int[]) AS x(u, t)
        )
        UPDATE crm_lead l
           SET user_id = CASE WHEN (l.id / %(count)s) %% 20 = 0 THEN NULL ELSE o.u END,
               team_id = o.t
          FROM owners o
         WHERE o.n = l.id %% %(count)s AND l.name LIKE 'Bench lead %%'
        """,
        {"users": [p[0] for p in pairs], "teams": [p[1] for p in pairs], "count": len(pairs)},
    )
    return users[0].id, head.id


def set_mode(env, regulated):
    from odoo.addons.crm_regulation.models.ir_rule import NARROWED_RULES  # noqa: PLC0415

    for xmlid, (stock, narrowed) in NARROWED_RULES.items():
        env.ref(xmlid).domain_force = narrowed if regulated else stock
    for xmlid in ROLE_RULES:
        env.ref(xmlid).active = regulated
    env.ref(HISTORY_RULE).domain_force = HISTORY_SCOPED if regulated else HISTORY_STOCK
    env.flush_all()
    env.registry.clear_cache()


def measure(registry, uid, rounds, extra=()):
    with registry.cursor() as cr:
        env = api.Environment(cr, uid, {})
        Lead = env["crm.lead"]
        domain = DOMAIN + list(extra)
        Lead.web_search_read(domain, SPEC, limit=80)  # warm caches

        def page():
            env.invalidate_all()
            return Lead.web_search_read(domain, SPEC, limit=80)

        spent, result = median_time(page, rounds)
        return spent, result["length"]


def measure_history(registry, uid, rounds):
    """The Time in Stage pivot: stays by stage, average hours and count."""
    with registry.cursor() as cr:
        env = api.Environment(cr, uid, {})
        History = env["crm.lead.stage.history"]

        def pivot():
            env.invalidate_all()
            return History._read_group([], ["stage_id"], ["duration_hours:avg", "__count"])

        pivot()  # warm caches
        spent, groups = median_time(pivot, rounds)
        return spent, sum(count for _stage, _avg, count in groups)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--salespeople", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    start = time.perf_counter()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        salesperson, head = build(env, args)
    with registry.cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute("VACUUM ANALYZE crm_lead")
        cr._cnx.autocommit = False
    print(
        f"== {args.leads:,} leads, {args.salespeople} salespeople, 21 teams in 3 levels "
        f"(generated in {time.perf_counter() - start:.0f} s) =="
    )
    rows = []
    for label, uid in (("Salesperson", salesperson), ("Head of sales (5 teams)", head)):
        figures = {}
        history = {}
        for regulated in (False, True):
            with registry.cursor() as cr:
                set_mode(api.Environment(cr, SUPERUSER_ID, {}), regulated)
            figures[regulated] = measure(registry, uid, args.rounds)
            history[regulated] = measure_history(registry, uid, args.rounds)
        (stock_t, stock_n), (reg_t, reg_n) = figures[False], figures[True]
        rows.append((label, stock_t, stock_n, reg_t, reg_n, reg_t / stock_t))
        (old_t, old_n), (new_t, new_n) = history[False], history[True]
        rows.append(
            (f"{label}: Time in Stage pivot (stays)", old_t, old_n, new_t, new_n, new_t / old_t)
        )
        # the same leads the stock way: "All Documents" and a filter that shows exactly
        # the leads the role matrix shows (own leads and the team's unassigned ones for the
        # salesperson; the teams and sub-teams led for the head of sales)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            user = env["res.users"].browse(uid)
            if uid == head:
                led = env["crm.team"].search([("user_id", "=", head)])
                teams = env["crm.team"].search([("id", "child_of", led.ids)])
                same = [("team_id", "in", teams.ids)]
            else:
                teams = env["crm.team"].search([("member_ids", "in", uid)])
                same = [
                    "|",
                    ("user_id", "=", uid),
                    "&",
                    ("user_id", "=", False),
                    ("team_id", "in", teams.ids),
                ]
            set_mode(env, False)
            user.group_ids = [(4, env.ref("sales_team.group_sale_salesman_all_leads").id)]
        all_t, all_n = measure(registry, uid, args.rounds, same)
        rows.append(
            (
                f"{label} vs stock All Documents + a filter on the same leads",
                all_t,
                all_n,
                reg_t,
                reg_n,
                reg_t / all_t,
            )
        )
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["res.users"].browse(uid).group_ids = [
                (3, env.ref("sales_team.group_sale_salesman_all_leads").id)
            ]
            set_mode(env, True)
    print("\n| user | stock rule: time (leads) | role matrix: time (leads) | ratio |")
    print("|---|---|---|---|")
    for label, stock_t, stock_n, reg_t, reg_n, ratio in rows:
        print(
            f"| {label} | {stock_t * 1000:.1f} ms ({stock_n:,}) | {reg_t * 1000:.1f} ms "
            f"({reg_n:,}) | {ratio:.2f} |"
        )
    with registry.cursor() as cr:
        env = api.Environment(cr, head, {})
        query = env["crm.lead"]._search(DOMAIN, limit=80)
        sql = query.select()
        cr.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql.code, sql.params)
        print("\nplan of the head of sales' first page:")
        for (line,) in cr.fetchall():
            print("  " + line)
    for label, _stock_t, stock_n, _reg_t, reg_n, ratio in rows:
        if stock_n == reg_n:  # the same rows both ways: the rule's own cost
            print(f"target ratio <= 1.2, {label}: " + ("OK" if ratio <= 1.2 else "MISSED"))


if __name__ == "__main__":
    main()
