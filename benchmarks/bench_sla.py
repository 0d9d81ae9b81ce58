"""Benchmark of the stage SLAs of crm_regulation, measured in one run against raw SQL.

One database (crm + crm_regulation) gets ``--leads`` open leads (set-based SQL, stage
history by the addon's own backfill) in one team working Monday to Friday 8-12 and 13-17
(the company's standard hours). ``--stage-leads`` of them (100,000 by default) sit in
"SLA Proposal"; the others are spread over three stages without SLA. In "SLA Proposal":
``--due`` leads (10,000) entered long ago (past any deadline), ``--at-risk`` (0 by default)
entered 36 business hours ago (past the 80 % warning of a 40-hour SLA, not its deadline),
the rest entered in the last two hours (not due).

Printed:

1. **Reschedule**: the stage gets a 40-hour SLA (``stage.sla_hours = 40``, an ORM write that
   reschedules its open leads set-based: deadlines in business hours from each stay's
   start, leads and open stays written) against a raw SQL baseline writing the same
   columns of the same leads and stays with calendar hours (``date_in + 40 h``), measured
   in the same run (the baseline rolled back).
2. **Watcher**: a hand-written SQL query of the due leads and the watcher's own query (median
   of 5; the faster one is the raw baseline),
   the whole cron run (once: it commits its batches), the cost of one notification made
   the plain ORM way (an activity, a note and the state written, on a sample of leads
   that are not due, rolled back), and the target: run <= 3 x raw query + due x one
   notification. A second run right after must find nothing.
3. EXPLAIN (ANALYZE, BUFFERS) of the watcher's query, in one line.
"""

import argparse
import time
from datetime import datetime

from bench_watchers import median_time, vacuum_analyze

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import SQL, config

TEAM = "SLA Bench Team"
SLA_HOURS = 40


def ensure_team(env):
    team = env["crm.team"].search([("name", "=", TEAM)], limit=1)
    if not team:
        users = (
            env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                [
                    {
                        "name": f"SLA Bench Salesperson {i}",
                        "login": f"sla_bench_sales_{i}",
                        "group_ids": [(4, env.ref("sales_team.group_sale_salesman").id)],
                    }
                    for i in range(4)
                ]
            )
        )
        team = env["crm.team"].create(
            {"name": TEAM, "member_ids": [(6, 0, users.ids)], "stale_days": 0}
        )
        env["crm.stage"].create(
            [
                {"name": f"SLA {name}", "sequence": 900 + i, "team_ids": [(6, 0, team.ids)]}
                for i, name in enumerate(["New", "Qualified", "Proposal", "Negotiation"])
            ]
        )
    stages = env["crm.stage"].search([("name", "like", "SLA %")], order="sequence")
    return team, stages, team.member_ids


def generate(env, args):
    team, stages, users = ensure_team(env)
    proposal = stages.filtered(lambda s: s.name == "SLA Proposal")
    others = (stages - proposal).ids
    env.flush_all()
    now = datetime.utcnow().replace(microsecond=0)
    calendar = team._regulation_calendar()
    # 36 business hours before now: past the 80 % warning (32 h), before the deadline (40 h)
    at_risk_in = calendar.plan_hours(-36, now, compute_leaves=True)
    cr = env.cr
    cr.execute("SELECT setseed(0.5)")
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, team_id, user_id, company_id, stage_id,
                              probability, expected_revenue, priority, won_status, outcome,
                              date_open, date_last_stage_update, create_date, write_date,
                              create_uid, write_uid)
        SELECT 'SLA bench lead ' || g, 'opportunity', TRUE, %(team)s,
               (%(users)s::int[])[1 + (g %% array_length(%(users)s::int[], 1))],
               %(company)s,
               CASE WHEN g <= %(in_stage)s THEN %(proposal)s
                    ELSE (%(others)s::int[])[1 + (g %% array_length(%(others)s::int[], 1))] END,
               10 + (g %% 80), 1000 * (1 + g %% 500), '1', 'pending', 'open',
               %(now)s - interval '60 days',
               CASE WHEN g <= %(due)s
                        THEN %(now)s - interval '20 days' - random() * interval '10 days'
                    WHEN g <= %(due)s + %(at_risk)s
                        THEN %(at_risk_in)s - random() * interval '10 minutes'
                    WHEN g <= %(in_stage)s THEN %(now)s - random() * interval '2 hours'
                    ELSE %(now)s - random() * interval '30 days' END,
               %(now)s - interval '60 days', %(now)s, 1, 1
          FROM generate_series(1, %(count)s) AS g
         ORDER BY random()
        """,
        {
            "team": team.id,
            "users": users.ids,
            "company": env.company.id,
            "proposal": proposal.id,
            "others": others,
            "in_stage": args.stage_leads,
            "due": args.due,
            "at_risk": args.at_risk,
            "at_risk_in": at_risk_in,
            "now": now,
            "count": args.leads,
        },
    )
    env["crm.lead.stage.history"]._backfill()
    env.invalidate_all()
    return team, proposal


def raw_reschedule(env, stage_id):
    """The same leads and stays written with calendar hours, in two statements."""
    cr = env.cr
    cr.execute(
        """UPDATE crm_lead l
              SET sla_deadline = h.date_in + interval '40 hours',
                  sla_warning_at = h.date_in + interval '32 hours',
                  sla_state = 'on_track'
             FROM crm_lead_stage_history h
            WHERE h.lead_id = l.id AND h.date_out IS NULL AND l.stage_id = %s AND l.active""",
        [stage_id],
    )
    written = cr.rowcount
    cr.execute(
        """UPDATE crm_lead_stage_history h
              SET sla_deadline = h.date_in + interval '40 hours', sla_hours = 40
             FROM crm_lead l
            WHERE h.lead_id = l.id AND h.date_out IS NULL AND l.stage_id = %s AND l.active""",
        [stage_id],
    )
    return written


def explain(env, query):
    env.cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) %s", query))
    lines = [row[0].strip() for row in env.cr.fetchall()]
    return " | ".join(line for line in lines if "Planning" not in line)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--stage-leads", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--at-risk", type=int, default=0)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        _team, proposal = generate(env, args)
        cr.commit()
        print(f"generated {args.leads:,} open leads in {time.perf_counter() - start:.1f} s")
    vacuum_analyze(registry)

    print(f"\n== reschedule: {args.stage_leads:,} leads when their stage gets an SLA ==")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        written = raw_reschedule(env, proposal.id)
        raw = time.perf_counter() - start
        cr.rollback()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        stage = env["crm.stage"].browse(proposal.id)
        start = time.perf_counter()
        stage.sla_hours = SLA_HOURS
        env.flush_all()
        orm = time.perf_counter() - start
        cr.commit()
        cr.execute("SELECT count(*) FROM crm_lead WHERE stage_id = %s AND sla_state IS NOT NULL",
                   [proposal.id])  # fmt: skip
        on_sla = cr.fetchone()[0]
    print(f"raw SQL, calendar hours ({written:,} leads and stays): {raw:.2f} s")
    print(f"stage.sla_hours = {SLA_HOURS} (business hours, set-based): {orm:.2f} s")
    print(f"ratio: {orm / raw:.2f}  ({on_sla:,} leads now on an SLA)")
    vacuum_analyze(registry)

    print(f"\n== watcher: {args.due:,} leads due among {args.leads:,} ==")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        now = datetime.utcnow()
        query = env["crm.lead"]._sla_due_sql(now)
        raw_sql = SQL(
            """SELECT id FROM crm_lead
                WHERE active AND sla_state IS NOT NULL
                  AND ((sla_state = 'on_track' AND sla_warning_at <= %(now)s)
                       OR sla_deadline <= %(now)s AND sla_state <> 'breached')""",
            now=now,
        )
        raw_query, due = median_time(lambda: env.execute_query(raw_sql), 5)
        own_query, _due = median_time(lambda: env.execute_query(query), 5)
        print(f"raw SQL query: {len(due):,} due in {raw_query * 1000:.1f} ms; "
              f"the watcher's query: {own_query * 1000:.1f} ms")  # fmt: skip
        print("plan:", explain(env, query))
        # one notification the plain ORM way, on leads that are not due (rolled back)
        sample = env["crm.lead"].search(
            [("stage_id", "=", proposal.id), ("sla_state", "=", "on_track")], limit=200
        )
        activity_type = env.ref("crm_regulation.mail_activity_type_sla")
        start = time.perf_counter()
        for lead in sample:
            env["mail.activity"].with_context(mail_activity_quick_update=True).create(
                {
                    "res_model_id": env["ir.model"]._get_id("crm.lead"),
                    "res_id": lead.id,
                    "activity_type_id": activity_type.id,
                    "summary": "Stage deadline passed",
                    "user_id": lead.user_id.id,
                }
            )
            lead.message_post(body="Stage deadline passed", subtype_xmlid="mail.mt_note")
            lead.sudo().write({"sla_state": "breached"})
        env.flush_all()
        per_notification = (time.perf_counter() - start) / len(sample)
        cr.rollback()
    print(f"one notification the plain ORM way: {per_notification * 1000:.1f} ms")

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        done = env["crm.lead"]._cron_sla_watcher()
        cr.commit()
        run = time.perf_counter() - start
    # the stricter of the two raw queries (the watcher's own SQL, run raw, is the fastest)
    bound = 3 * min(raw_query, own_query) + len(due) * per_notification
    print(f"watcher run: {done:,} leads in {run:.1f} s ({run / max(done, 1) * 1000:.1f} ms/lead)")
    print(f"target 3 x raw query + {len(due):,} x one notification = {bound:.1f} s; "
          f"ratio {run / bound:.2f} (<= 1 meets the target)")  # fmt: skip
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        again = env["crm.lead"]._cron_sla_watcher()
        cr.commit()
        second = time.perf_counter() - start
        cr.execute(
            """SELECT sla_state, count(*) FROM crm_lead WHERE stage_id = %s
                GROUP BY sla_state ORDER BY 1""",
            [proposal.id],
        )
        states = dict(cr.fetchall())
        cr.execute(
            """SELECT count(*) FROM mail_activity WHERE res_model = 'crm.lead'
                  AND activity_type_id = %s""",
            [env.ref("crm_regulation.mail_activity_type_sla").id],
        )
        activities = cr.fetchone()[0]
        cr.execute(
            """SELECT count(*) FROM crm_lead_stage_history h JOIN crm_lead l ON l.id = h.lead_id
                WHERE h.date_out IS NULL AND h.sla_breached AND l.stage_id = %s""",
            [proposal.id],
        )
        breached_stays = cr.fetchone()[0]
    print(f"second run: {again} leads in {second * 1000:.1f} ms")
    print(f"check: states {states}; {activities:,} SLA activities; "
          f"{breached_stays:,} open stays marked breached")  # fmt: skip
    expected_breached = args.due
    ok = (
        again == 0
        and states.get("breached", 0) == expected_breached
        and states.get("at_risk", 0) == args.at_risk
        and breached_stays == expected_breached
    )
    print("checks:", "OK" if ok else "FAILED")


if __name__ == "__main__":
    main()
