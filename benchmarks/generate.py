"""Data generator: N leads with realistic stage histories, written with set-based SQL.

Used by the benchmarks, and usable on its own against a database that has crm (and, for
histories, crm_regulation) installed::

    .venv/bin/python benchmarks/generate.py -c .odoo/bench.conf -d DB --leads 1000000

Leads are spread over the team's stages and salespeople; each lead that already went
through earlier stages gets one closed stay per earlier stage (durations drawn around the
typical durations of the regulation's funnel) and one open stay in its current stage.
"""

import argparse
import time

# typical hours per stage of the funnel (glossary: 1-2 days, 1-3, 3-7, 2-5, 5-14, 2-7 days)
STAGE_HOURS = [(8, 48), (24, 72), (72, 168), (48, 120), (120, 336), (48, 168)]
STAGE_NAMES = ["New Lead", "Qualification", "Presentation", "Proposal", "Negotiation", "Contract"]


def ensure_funnel(env):
    """The benchmark team, its stages and three salespeople (created once)."""
    team = env["crm.team"].search([("name", "=", "Benchmark Team")], limit=1)
    if not team:
        team = env["crm.team"].create({"name": "Benchmark Team"})
        env["crm.stage"].create(
            [
                {"name": f"Bench {name}", "sequence": 500 + i, "team_ids": [(6, 0, team.ids)]}
                for i, name in enumerate(STAGE_NAMES)
            ]
            + [
                {
                    "name": "Bench Won",
                    "sequence": 599,
                    "is_won": True,
                    "team_ids": [(6, 0, team.ids)],
                }
            ]
        )
        users = env["res.users"].create(
            [
                {
                    "name": f"Bench Salesperson {i}",
                    "login": f"bench_sales_{i}",
                    "group_ids": [(4, env.ref("sales_team.group_sale_salesman").id)],
                }
                for i in range(3)
            ]
        )
        team.member_ids = users
    stages = env["crm.stage"].search([("team_ids", "in", team.ids)], order="sequence")
    users = env["res.users"].search([("login", "like", "bench_sales_")])
    return team, stages.filtered(lambda s: not s.is_won), users


def generate_leads(env, count, with_history=True, seed=42):
    """Insert ``count`` leads (and their histories) in a few statements; returns their ids."""
    team, stages, users = ensure_funnel(env)
    env.flush_all()
    cr = env.cr
    cr.execute("SELECT setseed(%s)", [seed / 100.0])
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, team_id, user_id, company_id, stage_id,
                              probability, expected_revenue, priority, date_open,
                              date_last_stage_update, create_date, write_date,
                              create_uid, write_uid)
        SELECT 'Bench lead ' || g, 'opportunity', TRUE, %(team)s,
               (%(users)s::int[])[1 + (g %% array_length(%(users)s::int[], 1))],
               %(company)s,
               (%(stages)s::int[])[1 + floor(random() * array_length(%(stages)s::int[], 1))::int],
               10 + (g %% 80), 1000 * (1 + g %% 500), '1',
               now() AT TIME ZONE 'UTC' - interval '200 days',
               now() AT TIME ZONE 'UTC' - random() * interval '30 days',
               now() AT TIME ZONE 'UTC' - interval '200 days',
               now() AT TIME ZONE 'UTC', 1, 1
          FROM generate_series(1, %(count)s) AS g
        RETURNING id
        """,
        {
            "team": team.id,
            "users": users.ids,
            "company": env.company.id,
            "stages": stages.ids,
            "count": count,
        },
    )
    lead_ids = [row[0] for row in cr.fetchall()]
    if with_history and "crm.lead.stage.history" in env:
        # one closed stay per earlier stage, walking back from the current stay
        cr.execute(
            """
            WITH funnel AS (
                SELECT id AS stage_id, row_number() OVER (ORDER BY sequence, id) AS pos
                  FROM crm_stage WHERE id = ANY(%(stages)s)
            ), hours AS (
                SELECT pos, lo, hi FROM unnest(%(lo)s::int[], %(hi)s::int[])
                       WITH ORDINALITY AS t(lo, hi, pos)
            ), lead AS (
                SELECT l.id, l.team_id, l.user_id, l.company_id, l.date_last_stage_update AS d,
                       f.pos AS cur
                  FROM crm_lead l JOIN funnel f ON f.stage_id = l.stage_id
                 WHERE l.id = ANY(%(ids)s)
            ), stays AS (
                SELECT lead.*, prev.pos,
                       sum(h.lo + random() * (h.hi - h.lo))
                           OVER (PARTITION BY lead.id ORDER BY prev.pos DESC) AS back_hours,
                       h.lo + random() * (h.hi - h.lo) AS own_hours
                  FROM lead
                  JOIN funnel prev ON prev.pos < lead.cur
                  JOIN hours h ON h.pos = prev.pos
            )
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in, date_out,
                    duration_hours, end_reason)
            SELECT s.id, f.stage_id, s.team_id, s.user_id, s.company_id,
                   s.d - make_interval(secs => s.back_hours * 3600),
                   s.d - make_interval(secs => (s.back_hours - s.own_hours) * 3600),
                   s.own_hours, 'moved'
              FROM stays s JOIN funnel f ON f.pos = s.pos
            """,
            {
                "stages": stages.ids,
                "lo": [lo for lo, _hi in STAGE_HOURS],
                "hi": [hi for _lo, hi in STAGE_HOURS],
                "ids": lead_ids,
            },
        )
        cr.execute(
            """
            INSERT INTO crm_lead_stage_history
                   (lead_id, stage_id, team_id, user_id, company_id, date_in)
            SELECT id, stage_id, team_id, user_id, company_id, date_last_stage_update
              FROM crm_lead WHERE id = ANY(%s)
            """,
            [lead_ids],
        )
    env.invalidate_all()
    return lead_ids


def main():
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415 - needs an initialised Odoo
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--no-history", action="store_true")
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    with Registry(args.database).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        ids = generate_leads(env, args.leads, with_history=not args.no_history)
        print(f"{len(ids)} leads generated in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
