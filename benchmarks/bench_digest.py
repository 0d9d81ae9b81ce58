"""Benchmark of the sales digests (digest.digest, crm_regulation): a daily digest to the 50
salespeople and 5 heads of sales of the KPI benchmark's teams (benchmarks/bench_kpi.py: the
same ``--leads`` leads, 1,000,000 by default, with a customer, an e-mail, a phone and tags),
each recipient's digest written as the cron writes it (content under their rights, the
e-mail, the XLSX workbook with every lead of every list to act on).

Printed: the total time for the 55 recipients; per recipient (heads, salespeople) the time,
the queries of the e-mail's content (capped lists: they must not grow with the lists) and of
the whole digest (the workbook reads its lists 1,000 leads a query), the leads to act on and
the workbook's size; the peak Python memory (tracemalloc) of a head's digest, workbook
included; and, in the same run, Odoo's own digest (the default KPI digest) to the same
recipients, for scale. Everything is rolled back: the database is left as it was.
"""

import argparse
import statistics
import time
import tracemalloc

from bench_kpi import ensure_teams, generate

from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tools import config


def queries(cr, function):
    before = cr.sql_log_count
    result = function()
    return cr.sql_log_count - before, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
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
        teams = ensure_teams(env)
        heads = teams.user_id
        sales = teams.member_ids
        for user in heads | sales:
            user.email = f"{user.login}@example.com"
        now = fields.Datetime.now()
        digest = env["digest.digest"].create(
            {
                "name": "Bench daily digest",
                "periodicity": "daily",
                "crm_regulation": True,
                "user_ids": [(6, 0, (heads | sales).ids)],
                "crm_active_since": "2000-01-01 00:00:00",
            }
        )
        env.flush_all()
        calendar = digest._crm_calendar(heads[0])
        period = digest._crm_current_period(calendar, now)
        print(
            f"{len(heads)} heads of sales, {len(sales)} salespeople; period {period.date_from} "
            f"(calendar {calendar.name}, {calendar.tz})"
        )
        rows = []
        sending = 0.0
        for user in heads | sales:
            env.invalidate_all()
            content_queries, content = queries(
                cr, lambda user=user: digest.with_context(tz=calendar.tz)._crm_content(user, period)
            )
            env.invalidate_all()
            begin = time.perf_counter()
            total_queries, mail = queries(cr, lambda user=user: digest._crm_send(user, period))
            elapsed = time.perf_counter() - begin
            sending += elapsed
            todo = sum(t["count"] for s in content["sections"] for t in s["todo"])
            rows.append(
                (
                    "head" if user in heads else "salesperson",
                    elapsed,
                    content_queries,
                    total_queries,
                    todo,
                    mail.attachment_ids.file_size,
                )
            )
        print(
            f"digests for {len(rows)} recipients (content, e-mail and workbook, as the cron "
            f"writes them): {sending:.1f} s"
        )
        for kind in ("head", "salesperson"):
            mine = [row for row in rows if row[0] == kind]
            print(
                f"{kind:<12} n={len(mine):>2}  time median "
                f"{statistics.median(r[1] for r in mine):.2f} s"
                f" max {max(r[1] for r in mine):.2f} s | queries: e-mail content "
                f"{min(r[2] for r in mine)}-{max(r[2] for r in mine)}, whole digest "
                f"{min(r[3] for r in mine)}-{max(r[3] for r in mine)} | leads to act on "
                f"{min(r[4] for r in mine):,}-{max(r[4] for r in mine):,} | workbook "
                f"{max(r[5] for r in mine) / 1024:.0f} KiB max"
            )
        # the peak memory of the largest digest (a head's), workbook included
        env.invalidate_all()
        tracemalloc.start()
        begin = time.perf_counter()
        mail = digest._crm_send(heads[0], period)
        elapsed = time.perf_counter() - begin
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        todo = max(r[4] for r in rows if r[0] == "head")
        print(
            f"a head's digest under tracemalloc: {elapsed:.1f} s, peak {peak / 2**20:.1f} MiB "
            f"(workbook {mail.attachment_ids.file_size / 2**20:.1f} MiB, up to {todo:,} leads "
            "to act on)"
        )
        # Odoo's own digest to the same recipients, for scale
        stock = env.ref("digest.digest_digest_default")
        env.invalidate_all()
        begin = time.perf_counter()
        for user in heads | sales:
            stock.with_context(lang=user.lang)._action_send_to_user(user, tips_count=0)
        stock_time = time.perf_counter() - begin
        print(f"Odoo's own digest to the same {len(rows)} recipients: {stock_time:.1f} s")
        cr.rollback()


if __name__ == "__main__":
    main()
