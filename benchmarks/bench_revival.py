"""Benchmark of the revival program's runner (crm.lead._cron_revival_runner), measured in one run
against a raw SQL count of the due set.

One database (crm + crm_regulation) gets ``--enrollments`` lost leads (200,000 by default) of one
team, each with a customer, an e-mail, a phone and a tag, lost for a revivable reason, each in a
revival program with two steps (an e-mail, then an activity), written with set-based SQL;
``--due`` of them (20,000) are due now. Printed:

1. a raw ``SELECT count(*)`` of the due set, and the runner's own "find what is due" query:
   median times and ratio;
2. the queries per sent step: a runner pass over 100 due enrollments and over 200 (the
   difference / 100 is the cost of one step, the rest is fixed); and against stock, Odoo's own
   ``message_post_with_source`` of the same template on 100 leads, one by one, against the
   runner's 100 steps on them (time and queries);
3. one runner pass over the whole due set (the cron's batches, committed): time, ms per step;
4. a second pass right after, which finds nothing;
5. the program's figures (the revival report under the record rules) as the system and as
   the team's head of sales, against raw SQL sums of the enrollments;

and the invariants: every due enrollment advanced exactly once (one e-mail each, none twice).
"""

import argparse
import statistics
import time

from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tools import SQL, config


def setup(env):
    team = env["crm.team"].search([("name", "=", "Revival Bench Team")], limit=1)
    if team:
        return team, env["crm.revival.program"].search([("name", "=", "Revival Bench")])
    Users = env["res.users"].with_context(no_reset_password=True)
    sales = Users.create(
        [
            {
                "name": f"Revival Bench Salesperson {i}",
                "login": f"revival_bench_{i}",
                "group_ids": [(4, env.ref("crm_regulation.group_salesperson").id)],
            }
            for i in range(5)
        ]
    )
    team = env["crm.team"].create(
        {"name": "Revival Bench Team", "member_ids": [(6, 0, sales.ids)], "loss_review": False}
    )
    stage = env["crm.stage"].create({"name": "Revival Bench New", "team_ids": [(6, 0, team.ids)]})
    template = env["mail.template"].create(
        {
            "name": "Revival Bench",
            "model_id": env["ir.model"]._get_id("crm.lead"),
            "subject": "News for {{ object.partner_name or object.name }}",
            "body_html": "<p>We have something new for you.</p>",
            "use_default_to": True,
        }
    )
    program = env["crm.revival.program"].create(
        {
            "name": "Revival Bench",
            "team_ids": [(6, 0, team.ids)],
            "reentry_stage_id": stage.id,
            "step_ids": [
                (0, 0, {"sequence": 1, "delay_days": 1, "mail_template_id": template.id}),
                (
                    0,
                    0,
                    {
                        "sequence": 2,
                        "delay_days": 5,
                        "action": "activity",
                        "activity_type_id": env.ref("mail.mail_activity_data_call").id,
                    },
                ),
            ],
        }
    )
    return team, program


def generate(env, team, program, count, due):
    cr = env.cr
    started = time.perf_counter()
    reason = env["crm.lost.reason"].search(
        [("category", "=", "loss"), ("revivable", "=", True)], limit=1
    )
    partners = env["res.partner"].create(
        [{"name": f"Revival Customer {i}", "email": f"r{i}@example.com"} for i in range(2000)]
    )
    tag = env["crm.tag"].create({"name": "Revival Bench Tag"})
    stage = program.reentry_stage_id
    env.flush_all()
    cr.execute(
        """
        INSERT INTO crm_lead (name, type, active, team_id, user_id, company_id, stage_id,
                              partner_id, email_from, email_normalized, phone, probability,
                              priority, outcome, lost_reason_id, won_status, date_closed,
                              create_date, write_date, create_uid, write_uid)
        SELECT 'Revival lead ' || g, 'opportunity', FALSE, %(team)s,
               (%(users)s::int[])[1 + g %% 5], %(company)s, %(stage)s,
               (%(partners)s::int[])[1 + g %% 2000],
               'buyer' || g || '@example.com', 'buyer' || g || '@example.com',
               '+7 900 ' || lpad(g::text, 7, '0'), 0, '1', 'lost', %(reason)s, 'lost',
               now() - interval '40 days', now() - interval '60 days',
               now() - interval '40 days', 1, 1
          FROM generate_series(1, %(count)s) g
        """,
        {
            "team": team.id,
            "users": team.member_ids.ids,
            "company": env.company.id,
            "stage": stage.id,
            "partners": partners.ids,
            "reason": reason.id,
            "count": count,
        },
    )
    cr.execute(
        """INSERT INTO crm_tag_rel (lead_id, tag_id)
           SELECT id, %s FROM crm_lead WHERE name LIKE 'Revival lead %%'""",
        [tag.id],
    )
    first = program.step_ids[0]
    # the first ``due`` leads are due an hour ago, the others in the coming weeks
    cr.execute(
        """
        INSERT INTO crm_revival_enrollment (lead_id, program_id, step_id, steps_done, next_run,
                                            state, owner_id, date_enrolled, replied,
                                            create_date, write_date, create_uid, write_uid)
        SELECT l.id, %(program)s, %(step)s, 0,
               CASE WHEN row_number() OVER (ORDER BY l.id) <= %(due)s
                    THEN now() AT TIME ZONE 'UTC' - interval '1 hour'
                    ELSE now() AT TIME ZONE 'UTC' + interval '1 day' * (1 + l.id %% 30) END,
               'running', l.user_id, now() - interval '40 days', FALSE,
               now(), now(), 1, 1
          FROM crm_lead l WHERE l.name LIKE 'Revival lead %%'
        """,
        {"program": program.id, "step": first.id, "due": due},
    )
    cr.execute("ANALYZE crm_lead")
    cr.execute("ANALYZE crm_revival_enrollment")
    print(
        f"generated {count:,} lost leads in revival, {due:,} due, "
        f"in {time.perf_counter() - started:.0f} s"
    )


def median_ms(function, rounds=5):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", "--enrollments", type=int, default=200_000, dest="count")
    parser.add_argument("--due", type=int, default=20_000)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        team, program = setup(env)
        if not env["crm.revival.enrollment"].search_count([("program_id", "=", program.id)]):
            generate(env, team, program, args.count, args.due)
            cr.commit()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Lead = env["crm.lead"]
        Enrollment = env["crm.revival.enrollment"]
        now = fields.Datetime.now()
        raw = SQL(
            "SELECT count(*) FROM crm_revival_enrollment "
            "WHERE state = 'running' AND next_run <= %s",
            now,
        )
        raw_ms = median_ms(lambda: cr.execute(raw))
        cr.execute(raw)
        (due,) = cr.fetchone()
        find_ms = median_ms(
            lambda: list(
                Enrollment._search(
                    [("state", "=", "running"), ("next_run", "<=", now)], order="next_run, id"
                )
            )
        )
        print(f"due enrollments: {due:,}")
        print(f"raw SELECT count(*) of the due set   {raw_ms:8.1f} ms")
        print(f"the runner's query of the due set    {find_ms:8.1f} ms  ({find_ms / raw_ms:.2f}x)")
        # the queries per step: 100 then 200 due enrollments, rolled back
        ids = list(
            Enrollment._search(
                [("state", "=", "running"), ("next_run", "<=", now)],
                order="next_run, id",
                limit=300,
            )
        )
        counts = {}
        for size in (100, 200):
            env.invalidate_all()
            before = cr.sql_log_count
            Lead._revival_run_steps(Enrollment.browse(ids[:size]).sudo(), now)
            env.flush_all()
            counts[size] = cr.sql_log_count - before
            cr.rollback()
        per_step = (counts[200] - counts[100]) / 100
        print(
            f"queries: 100 steps {counts[100]}, 200 steps {counts[200]}: "
            f"{per_step:.1f} per step, {counts[100] - 100 * per_step:.0f} fixed"
        )
        # against stock: Odoo posting the same template on the same 100 leads, one by one,
        # then the runner's 100 steps on them (each rolled back)
        batch = Enrollment.browse(ids[200:300]).sudo()
        template = env["crm.revival.program"].browse(program.id).step_ids[0].mail_template_id
        timings = {}
        for name in ("stock", "runner", "stock ", "runner "):
            env.invalidate_all()
            before, started = cr.sql_log_count, time.perf_counter()
            if name.strip() == "stock":
                for lead in batch.lead_id.with_context(mail_notify_force_send=False):
                    lead.message_post_with_source(
                        template, message_type="comment", subtype_xmlid="mail.mt_comment"
                    )
            else:
                Lead.with_context(mail_notify_force_send=False)._revival_run_steps(batch, now)
            env.flush_all()
            timings[name] = (time.perf_counter() - started, cr.sql_log_count - before)
            cr.rollback()
        stock, runner = timings["stock "], timings["runner "]  # the second, warm rounds
        print(
            f"100 e-mails posted by Odoo (message_post_with_source): {stock[0] * 10:.1f} ms "
            f"and {stock[1] / 100:.1f} queries each; by the runner: {runner[0] * 10:.1f} ms "
            f"and {runner[1] / 100:.1f} queries a step ({runner[0] / stock[0]:.2f}x the time)"
        )
    # one runner pass over the whole due set, as the cron runs it (committed batches)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        started = time.perf_counter()
        done = env["crm.lead"]._cron_revival_runner()
        cr.commit()
        elapsed = time.perf_counter() - started
        print(
            f"runner pass: {done:,} steps in {elapsed:.1f} s "
            f"({1000 * elapsed / max(done, 1):.1f} ms a step; the raw count of the set: "
            f"{raw_ms:.1f} ms)"
        )
        started = time.perf_counter()
        again = env["crm.lead"]._cron_revival_runner()
        cr.commit()
        print(f"second pass: {again} steps in {time.perf_counter() - started:.2f} s")
        cr.execute(
            """SELECT count(*) FILTER (WHERE steps_done = 1), count(*) FILTER (WHERE steps_done > 1)
                 FROM crm_revival_enrollment e JOIN crm_lead l ON l.id = e.lead_id
                WHERE l.name LIKE 'Revival lead %%'"""
        )
        once, twice = cr.fetchone()
        cr.execute(
            """SELECT count(*) FROM (
                 SELECT m.res_id FROM mail_message m JOIN crm_lead l ON l.id = m.res_id
                  WHERE m.model = 'crm.lead' AND l.name LIKE 'Revival lead %%'
                    AND m.message_type = 'comment'
                  GROUP BY m.res_id HAVING count(*) > 1) d"""
        )
        (doubled,) = cr.fetchone()
        print(
            f"invariants: {once:,} enrollments advanced once, {twice} twice, "
            f"{doubled} leads e-mailed twice"
        )
        # the figures of the program (the revival report's _read_group under the record
        # rules) as the system and as the team's head of sales, against raw SQL sums
        program = env["crm.revival.program"].browse(program.id)
        team = env["crm.team"].browse(team.id)
        head = env["res.users"].search([("login", "=", "revival_bench_head")])
        if not head:
            head = (
                env["res.users"]
                .with_context(no_reset_password=True)
                .create(
                    {
                        "name": "Revival Bench Head",
                        "login": "revival_bench_head",
                        "group_ids": [(4, env.ref("crm_regulation.group_head_of_sales").id)],
                    }
                )
            )
            team.user_id = head
            cr.commit()
        raw_figures = SQL(
            """SELECT count(*), sum(e.steps_done), count(*) FILTER (WHERE e.state = 'revived')
                 FROM crm_revival_enrollment e WHERE e.program_id = %s""",
            program.id,
        )
        raw_ms = median_ms(lambda: cr.execute(raw_figures), rounds=3)

        def figures(user):
            record = program.with_user(user)
            record.invalidate_recordset()
            return (record.enrollment_count, record.sent_count, record.revived_count)

        system_ms = median_ms(lambda: figures(env.user), rounds=3)
        head_ms = median_ms(lambda: figures(head), rounds=3)
        cr.execute(raw_figures)
        raw_values = cr.fetchone()
        print(
            f"the program's figures {figures(env.user)} (raw {raw_values}): as the system "
            f"{system_ms:.0f} ms, as the head of sales {head_ms:.0f} ms, raw SQL sums "
            f"{raw_ms:.0f} ms ({system_ms / raw_ms:.1f}x, {head_ms / raw_ms:.1f}x)"
        )


if __name__ == "__main__":
    main()
