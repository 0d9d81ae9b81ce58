"""Benchmark of the KPI engine (crm.team.get_regulation_kpis), measured in one run against one
hand-written SQL statement computing the same figures and against ``read_group`` per KPI.

One database (crm + crm_regulation) gets ``--leads`` leads (1,000,000 by default) in five
teams of ten salespeople, created over the last two years, with the data users have (a
customer, an e-mail, a phone, a tag on one lead in three), about five stays each (the
funnel walked from its first stage: won, lost, disqualified or still open), the first
contact of most leads, done activities and regulation bypasses, written with set-based SQL.
Printed, for one team and the current week (and the previous one, as the engine computes
it), medians of ``--rounds`` runs after one warm-up run:

1. the engine, as the superuser and as the team's head of sales (record rules applied);
2. one hand-written SQL statement for the same figures (the team as a constant);
3. ``read_group`` per KPI (the ORM way without the engine);
4. the dashboard's server call (what its first paint waits for);

and the ratios engine ÷ SQL (target ≤ 2) and engine ÷ read_group (target < 1).
"""

import argparse
import statistics
import time
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tools import SQL, config

TEAMS, PER_TEAM = 5, 10
STAGES = ["New", "Qualification", "Presentation", "Proposal", "Negotiation", "Contract"]


def ensure_teams(env):
    """Five teams of ten salespeople and a head of sales each, one shared pipeline."""
    teams = env["crm.team"].search([("name", "like", "KPI Bench Team %")], order="id")
    if teams:
        return teams
    Users = env["res.users"].with_context(no_reset_password=True)
    heads = Users.create(
        [
            {
                "name": f"KPI Bench Head {t}",
                "login": f"kpi_bench_head_{t}",
                "group_ids": [(4, env.ref("crm_regulation.group_head_of_sales").id)],
            }
            for t in range(TEAMS)
        ]
    )
    sales = Users.create(
        [
            {
                "name": f"KPI Bench Salesperson {i}",
                "login": f"kpi_bench_sales_{i}",
                "group_ids": [(4, env.ref("crm_regulation.group_salesperson").id)],
            }
            for i in range(TEAMS * PER_TEAM)
        ]
    )
    teams = env["crm.team"].create(
        [
            {
                "name": f"KPI Bench Team {t}",
                "user_id": heads[t].id,
                "regulation_mode": "enforce",
                "member_ids": [(6, 0, sales[t * PER_TEAM : (t + 1) * PER_TEAM].ids)],
            }
            for t in range(TEAMS)
        ]
    )
    env["crm.stage"].create(
        [
            {"name": f"KPI {name}", "sequence": 800 + i, "team_ids": [(6, 0, teams.ids)]}
            for i, name in enumerate(STAGES)
        ]
        + [{"name": "KPI Won", "sequence": 899, "is_won": True, "team_ids": [(6, 0, teams.ids)]}]
    )
    # only the benchmark's pipeline: Odoo's default stages belong to another team
    other = env["crm.team"].create({"name": "KPI Bench Other"})
    env["crm.stage"].search([("team_ids", "=", False)]).team_ids = other
    return teams


def generate(env, count):
    """``count`` leads over two years with ~5 stays each, outcomes, contacts, activities."""
    teams = ensure_teams(env)
    env.flush_all()
    cr = env.cr
    cr.execute("SELECT setseed(0.42)")
    partners = env["res.partner"].create(
        [{"name": f"KPI Customer {i}", "email": f"c{i}@example.com"} for i in range(2000)]
    )
    tag = env["crm.tag"].create({"name": "KPI Bench Tag"})
    stages = env["crm.stage"].search([("name", "like", "KPI %")], order="sequence")
    users = [team.member_ids.ids for team in teams]
    reasons = env["crm.lost.reason"].search([])
    loss = reasons.filtered(lambda r: r.category == "loss")[:1]
    disq = reasons.filtered(lambda r: r.category == "disqualification")[:1]
    started = time.perf_counter()
    # k stays (3..7): 7 = won; else lost (40%), disqualified (15%) or open
    cr.execute(
        """
        CREATE TEMP TABLE kpi_gen ON COMMIT DROP AS
        SELECT g, t, (%(users)s::int[])[t * %(per)s + 1 + ((g / %(teams)s) %% %(per)s)] AS user_id,
               now() AT TIME ZONE 'UTC' - random() * interval '730 days' AS created,
               3 + floor(random() * 5)::int AS k, random() AS fate
          FROM generate_series(1, %(count)s) g, LATERAL (SELECT g %% %(teams)s AS t) tt
        """,
        {
            "users": [u for team in users for u in team],
            "per": PER_TEAM,
            "count": count,
            "teams": TEAMS,
        },
    )
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, team_id, user_id, company_id, stage_id,
                              partner_id, email_from, phone, probability, expected_revenue,
                              priority, outcome, lost_reason_id, date_open, date_closed,
                              date_last_stage_update, create_date, write_date, create_uid,
                              write_uid, first_contact_date, first_contact_hours, stale_date)
        SELECT 'KPI lead ' || g, 'opportunity',
               NOT (k < 7 AND fate < 0.55),
               (%(teams)s::int[])[t + 1], user_id, %(company)s,
               (%(stages)s::int[])[k],
               (%(partners)s::int[])[1 + g %% 2000], 'c' || (g %% 2000) || '@example.com',
               '+7 900 ' || lpad((g %% 10000000)::text, 7, '0'),
               CASE WHEN k = 7 THEN 100 WHEN fate < 0.55 THEN 0 ELSE 10 * k END,
               1000 * (1 + g %% 500), '1',
               CASE WHEN k = 7 THEN 'won' WHEN fate < 0.40 THEN 'lost'
                    WHEN fate < 0.55 THEN 'disqualified' ELSE 'open' END,
               CASE WHEN k = 7 THEN NULL WHEN fate < 0.40 THEN %(loss)s
                    WHEN fate < 0.55 THEN %(disq)s END,
               created,
               CASE WHEN k = 7 OR fate < 0.55 THEN created + k * interval '40 hours' END,
               created + (k - 1) * interval '40 hours', created, created, 1, 1,
               CASE WHEN fate > 0.3 THEN created + interval '3 hours' END,
               CASE WHEN fate > 0.3 THEN 1 + 10 * fate END,
               CASE WHEN k < 7 AND fate > 0.97 THEN created + k * interval '40 hours' END
          FROM kpi_gen ORDER BY g
        """,
        {
            "teams": teams.ids,
            "company": env.company.id,
            "stages": stages.ids,
            "partners": partners.ids,
            "loss": loss.id,
            "disq": disq.id,
        },
    )
    cr.execute(
        """CREATE TEMP TABLE kpi_leads ON COMMIT DROP AS
           SELECT l.id, l.team_id, l.user_id, l.company_id, l.create_date AS created,
                  l.active, l.outcome,
                  array_position(%s::int[], l.stage_id) AS k
             FROM crm_lead l WHERE l.name LIKE 'KPI lead %%'""",
        [stages.ids],
    )
    cr.execute(
        """
        INSERT INTO crm_lead_stage_history
               (lead_id, stage_id, team_id, user_id, company_id, date_in, date_out,
                duration_hours, duration_business_hours, end_reason)
        SELECT l.id, (%(stages)s::int[])[i], l.team_id, l.user_id, l.company_id,
               l.created + (i - 1) * interval '40 hours',
               CASE WHEN i < l.k OR NOT l.active THEN l.created + i * interval '40 hours' END,
               CASE WHEN i < l.k OR NOT l.active THEN 40 END,
               CASE WHEN i < l.k OR NOT l.active THEN 16 + (l.id %% 17) END,
               CASE WHEN i < l.k THEN (CASE WHEN i = l.k - 1 AND l.outcome = 'won'
                                            THEN 'won' ELSE 'moved' END)
                    WHEN NOT l.active THEN 'lost' END
          FROM kpi_leads l, generate_series(1, l.k) i
        """,
        {"stages": stages.ids},
    )
    cr.execute(
        """INSERT INTO crm_tag_rel (lead_id, tag_id)
           SELECT id, %s FROM kpi_leads WHERE id %% 3 = 0""",
        [tag.id],
    )
    call = env.ref("mail.mail_activity_data_call").id
    cr.execute(
        """
        INSERT INTO mail_message (model, res_id, message_type, mail_activity_type_id, date,
                                  author_id, body, create_date, write_date, create_uid,
                                  write_uid)
        SELECT 'crm.lead', l.id, 'notification', %s, l.created + interval '3 hours',
               3, '<p>Call done</p>', l.created, l.created, 1, 1
          FROM kpi_leads l WHERE l.id %% 2 = 0
        """,
        [call],
    )
    cr.execute(
        """
        INSERT INTO crm_regulation_violation (date, lead_id, lead_name, team_id, user_id,
                                              requirement, mode, outcome, path, source)
        SELECT l.created + interval '40 hours', l.id, 'KPI lead', l.team_id, l.user_id,
               'Bench requirement', 'enforce', 'bypassed', 'ui', 'rule'
          FROM kpi_leads l WHERE l.id % 50 = 0
        """
    )
    cr.execute("ANALYZE crm_lead")
    cr.execute("ANALYZE crm_lead_stage_history")
    cr.execute("ANALYZE mail_message")
    cr.execute("SELECT count(*) FROM crm_lead_stage_history")
    (stays,) = cr.fetchone()
    print(f"generated {count:,} leads and {stays:,} stays in {time.perf_counter() - started:.0f} s")
    return teams


def hand_sql(team_id, start, stop, prev):
    """One statement: the same figures for the week and the previous one, team constant."""
    return SQL(
        """
        WITH w(n, start, stop) AS (VALUES (1, %(start)s::timestamp, %(stop)s::timestamp),
                                          (2, %(prev)s::timestamp, %(start)s::timestamp)),
        ts AS (SELECT s.id AS stage_id, s.is_won,
                      row_number() OVER (ORDER BY s.sequence, s.id) AS rank
                 FROM crm_stage s
                WHERE NOT EXISTS (SELECT 1 FROM crm_stage_crm_team_rel r
                                   WHERE r.crm_stage_id = s.id)
                   OR EXISTS (SELECT 1 FROM crm_stage_crm_team_rel r
                               WHERE r.crm_stage_id = s.id AND r.crm_team_id = %(team)s)),
        new AS (SELECT w.n, count(*) AS leads,
                       count(*) FILTER (WHERE l.outcome = 'won' OR EXISTS (
                           SELECT 1 FROM crm_lead_stage_history h
                             JOIN ts ON ts.stage_id = h.stage_id
                            WHERE h.lead_id = l.id AND ts.rank >= 2)) AS qualified,
                       count(*) FILTER (WHERE l.outcome = 'disqualified') AS disq,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.first_contact_hours) AS fc
                  FROM crm_lead l JOIN w ON l.create_date >= w.start AND l.create_date < w.stop
                 WHERE l.team_id = %(team)s GROUP BY w.n),
        closed AS (SELECT w.n, count(*) FILTER (WHERE l.outcome = 'won') AS won,
                          count(*) FILTER (WHERE l.outcome = 'lost') AS lost,
                          sum(l.expected_revenue) FILTER (WHERE l.outcome = 'won') AS revenue,
                          percentile_cont(0.5) WITHIN GROUP (
                              ORDER BY l.date_closed - l.create_date) AS cycle
                     FROM crm_lead l
                     JOIN w ON l.date_closed >= w.start AND l.date_closed < w.stop
                    WHERE l.team_id = %(team)s AND l.outcome IN ('won', 'lost') GROUP BY w.n),
        entry AS (SELECT h.lead_id, h.stage_id, h.date_in, h.duration_business_hours AS hours,
                         h.sla_breached
                    FROM crm_lead_stage_history h
                   WHERE h.date_in >= %(prev)s AND h.date_in < %(stop)s
                     AND h.team_id = %(team)s
                     AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history e
                                      WHERE e.lead_id = h.lead_id AND e.stage_id = h.stage_id
                                        AND e.date_in < h.date_in)),
        conv AS (SELECT w.n, e.stage_id, count(*) AS entered,
                        count(*) FILTER (WHERE r.reach > ts.rank) AS went_on,
                        percentile_cont(0.5) WITHIN GROUP (ORDER BY e.hours) AS hours,
                        count(*) FILTER (WHERE e.sla_breached) AS breached
                   FROM entry e JOIN crm_lead l ON l.id = e.lead_id
                   JOIN ts ON ts.stage_id = e.stage_id
                   JOIN w ON e.date_in >= w.start AND e.date_in < w.stop,
                   LATERAL (SELECT max(t2.rank) AS reach FROM crm_lead_stage_history h2
                              JOIN ts t2 ON t2.stage_id = h2.stage_id
                             WHERE h2.lead_id = e.lead_id) r
                  GROUP BY w.n, e.stage_id),
        work AS (SELECT w.n, l.user_id, count(*) AS leads
                   FROM crm_lead l
                   JOIN w ON l.create_date < w.stop
                         AND (l.date_closed >= w.stop OR (l.outcome = 'open' AND l.active))
                  WHERE l.team_id = %(team)s AND l.create_date < %(stop)s
                    AND (l.date_closed >= %(start)s OR (l.outcome = 'open' AND l.active))
                  GROUP BY w.n, l.user_id),
        acts AS (SELECT w.n, m.mail_activity_type_id, count(*) AS done
                   FROM mail_message m JOIN crm_lead l ON l.id = m.res_id
                   JOIN w ON m.date >= w.start AND m.date < w.stop
                  WHERE m.model = 'crm.lead' AND m.mail_activity_type_id IS NOT NULL
                    AND l.team_id = %(team)s GROUP BY w.n, m.mail_activity_type_id),
        stale AS (SELECT w.n, count(*) AS stale FROM crm_lead l
                    JOIN w ON l.stale_date >= w.start AND l.stale_date < w.stop
                   WHERE l.team_id = %(team)s AND l.active AND l.outcome = 'open' GROUP BY w.n),
        bypass AS (SELECT w.n, count(*) AS bypasses FROM crm_regulation_violation v
                     JOIN w ON v.date >= w.start AND v.date < w.stop
                    WHERE v.team_id = %(team)s AND v.outcome = 'bypassed' GROUP BY w.n)
        SELECT 'new', to_jsonb(array_agg(new)) FROM new
        UNION ALL SELECT 'closed', to_jsonb(array_agg(closed)) FROM closed
        UNION ALL SELECT 'conv', to_jsonb(array_agg(conv)) FROM conv
        UNION ALL SELECT 'work', to_jsonb(array_agg(work)) FROM work
        UNION ALL SELECT 'acts', to_jsonb(array_agg(acts)) FROM acts
        UNION ALL SELECT 'stale', to_jsonb(array_agg(stale)) FROM stale
        UNION ALL SELECT 'bypass', to_jsonb(array_agg(bypass)) FROM bypass
        """,
        team=team_id,
        start=start,
        stop=stop,
        prev=prev,
    )


def read_group_per_kpi(env, team, start, stop, prev):
    """The same figures the ORM way: ``_read_group`` per KPI and week (medians from the
    values read), conversion per stage from the stays read."""
    Lead = env["crm.lead"].with_context(active_test=False)
    Stay = env["crm.lead.stage.history"]
    Message = env["mail.message"]
    Violation = env["crm.regulation.violation"]
    stages = env["crm.stage"].search(["|", ("team_ids", "=", False), ("team_ids", "in", team.ids)])
    rank = {stage.id: i for i, stage in enumerate(stages, 1)}
    out = {}
    for a, b in ((start, stop), (prev, start)):
        new = [("team_id", "=", team.id), ("create_date", ">=", a), ("create_date", "<", b)]
        out["new", a] = Lead._read_group(new, ["outcome"], ["__count"])
        (hours,) = Lead._read_group(new, [], ["first_contact_hours:array_agg"])[0]
        out["fc", a] = statistics.median([h for h in hours or [] if h is not None] or [0])
        qualified_leads = Stay._read_group(
            [("lead_id", "any", new), ("stage_id", "in", stages[1:].ids)], ["lead_id"], []
        )
        out["qualified", a] = len(qualified_leads)
        closed = [("team_id", "=", team.id), ("date_closed", ">=", a), ("date_closed", "<", b)]
        out["closed", a] = Lead._read_group(
            [*closed, ("outcome", "in", ["won", "lost"])],
            ["outcome"],
            ["__count", "expected_revenue:sum"],
        )
        # first entries into a stage in the week: the stays of the leads that entered a
        # stage in it, all of them (an earlier stay in the same stage is no entry), then how
        # far each lead went from its entry on
        entered = (
            Stay._read_group(
                [("team_id", "=", team.id), ("date_in", ">=", a), ("date_in", "<", b)],
                [],
                ["lead_id:array_agg"],
            )[0][0]
            or []
        )
        stays = Stay._read_group(
            [("lead_id", "in", list(set(entered)))],
            ["lead_id", "stage_id", "date_in:day"],
            ["duration_business_hours:min", "sla_breached:bool_or"],
        )
        by_lead = {}
        for lead, stage, day, hours, _breached in stays:
            by_lead.setdefault(lead.id, []).append((day, rank.get(stage.id, 0), stage.id, hours))
        conv, hours_by_stage = {}, {}
        for visits in by_lead.values():
            visits.sort()
            seen = set()
            for index, (day, stage_rank, stage_id, hours) in enumerate(visits):
                if stage_id in seen:
                    continue
                seen.add(stage_id)
                if not (a <= day < b):
                    continue
                reach = max(r for _d, r, _s, _h in visits[index:])
                entered_count, went_on = conv.get(stage_id, (0, 0))
                conv[stage_id] = (entered_count + 1, went_on + (reach > stage_rank))
                if hours:
                    hours_by_stage.setdefault(stage_id, []).append(hours)
        for stage_id, counts in conv.items():
            out["conv", a, stage_id] = counts
            out["hours", a, stage_id] = statistics.median(hours_by_stage.get(stage_id) or [0])
        out["work", a] = Lead._read_group(
            [
                ("team_id", "=", team.id),
                ("create_date", "<", b),
                "|",
                ("date_closed", ">=", b),
                "&",
                ("outcome", "=", "open"),
                ("active", "=", True),
            ],
            ["user_id"],
            ["__count"],
        )
        out["acts", a] = Message._read_group(
            [
                ("model", "=", "crm.lead"),
                ("mail_activity_type_id", "!=", False),
                ("date", ">=", a),
                ("date", "<", b),
                ("res_id", "in", Lead._search([("team_id", "=", team.id)])),
            ],
            ["mail_activity_type_id"],
            ["__count"],
        )
        out["stale", a] = Lead._read_group(
            [("team_id", "=", team.id), ("stale_date", ">=", a), ("stale_date", "<", b)],
            [],
            ["__count"],
        )
        out["bypass", a] = Violation._read_group(
            [("team_id", "=", team.id), ("outcome", "=", "bypassed"), ("date", ">=", a),
             ("date", "<", b)],
            [],
            ["__count"],
        )  # fmt: skip
    return out


def timed(function, rounds, env):
    function()  # warm-up
    samples = []
    for _ in range(rounds):
        env.invalidate_all()
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        teams = ensure_teams(env)
        if not env["crm.lead"].search_count([("team_id", "in", teams.ids)]):
            generate(env, args.leads)
            cr.commit()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tz": "UTC"})
        team = ensure_teams(env)[0]
        today = fields.Date.context_today(env["crm.team"])
        monday = today - timedelta(days=today.weekday())
        sunday = monday + timedelta(days=6)
        start = fields.Datetime.to_datetime(monday)
        stop, prev = start + timedelta(days=7), start - timedelta(days=7)
        head = team.user_id
        leads = env["crm.lead"].with_context(active_test=False)
        size = leads.search_count([("team_id", "=", team.id)])
        print(f"team {team.name}: {size:,} leads; week {monday} to {sunday}")

        def engine(user=None):
            return team.with_user(user or env.user).get_regulation_kpis(monday, sunday)

        sql = hand_sql(team.id, start, stop, prev)

        def by_hand():
            # JIT off as the engine runs its statements (kpi_sql.jit_off)
            cr.execute("SET jit = off")
            env.execute_query(sql)
            cr.execute("RESET jit")

        results = {
            "engine (superuser)": timed(lambda: engine(), args.rounds, env),
            "engine (head of sales, record rules)": timed(lambda: engine(head), args.rounds, env),
            "hand-written SQL (one statement)": timed(by_hand, args.rounds, env),
            "read_group per KPI": timed(
                lambda: read_group_per_kpi(env, team, start, stop, prev), args.rounds, env
            ),
            "dashboard call (head of sales)": timed(
                lambda: env["crm.team"].with_user(head).get_regulation_dashboard(team.id, "week"),
                args.rounds,
                env,
            ),
        }
        for name, ms in results.items():
            print(f"{name:<40} {ms:10.1f} ms")
        base = results["hand-written SQL (one statement)"]
        engine_ms = results["engine (superuser)"]
        print(f"ratio engine / hand-written SQL: {engine_ms / base:.2f} (target <= 2)")
        head_ms = results["engine (head of sales, record rules)"]
        read_group_ms = results["read_group per KPI"]
        print(f"ratio engine (head of sales) / hand-written SQL: {head_ms / base:.2f}")
        print(f"ratio engine / read_group per KPI: {engine_ms / read_group_ms:.2f} (target < 1)")
        kpis = {k["code"]: k["value"] for k in engine() if "key" not in k}
        print("figures of the week:", kpis)


if __name__ == "__main__":
    main()
