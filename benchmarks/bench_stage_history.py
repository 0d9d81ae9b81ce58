"""Benchmark of the stage history, measured in one run against stock Odoo.

Two databases with the same data: ``stock`` (crm only) and ``addon`` (crm + crm_regulation).
One Python process opens both registries and alternates the measurements, so both sides
run on the same machine state. Printed:

* batch ``write({'stage_id': ...})`` on 1,000 leads (mail tracking on, as in the UI):
  median time with the addon / median time on stock Odoo (target <= 1.15);
* SQL queries of that write for 10 and for 1,000 leads, both sides (must not grow with
  the batch size because of the addon);
* install-time backfill: leads without history get their rows (target: 1,000,000 leads
  under 60 s on a 2-core machine).
"""

import argparse
import statistics
import time

from generate import generate_leads

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

ADMIN_UID = 2  # a real user: access rights and record rules are checked as in the UI


def measure_write(registry, lead_ids, target_stage):
    """One batch stage change, rolled back; returns (seconds, queries)."""
    with registry.cursor() as cr:
        env = api.Environment(cr, ADMIN_UID, {})
        leads = env["crm.lead"].browse(lead_ids)
        queries = cr.sql_log_count
        start = time.perf_counter()
        leads.write({"stage_id": target_stage})
        env.flush_all()
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        cr.rollback()
    return elapsed, queries


def prepare(registry, count):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        ids = generate_leads(env, count, seed=7)
        stages = env["crm.stage"].search([("name", "like", "Bench %")], order="sequence")
        # every lead moves: pick a stage none of them is in (the won stage is excluded)
        target = stages.filtered(lambda s: s.name == "Bench Contract")
        cr.execute(
            "UPDATE crm_lead SET stage_id = %s WHERE id = ANY(%s) AND stage_id = %s",
            [stages[0].id, ids, target.id],
        )
        if "crm.lead.stage.history" in env:
            cr.execute(
                """UPDATE crm_lead_stage_history SET stage_id = %s
                    WHERE lead_id = ANY(%s) AND stage_id = %s AND date_out IS NULL""",
                [stages[0].id, ids, target.id],
            )
        cr.commit()
        return ids, target.id


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("--stock-db", required=True)
    parser.add_argument("--addon-db", required=True)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--backfill-leads", type=int, default=100_000)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])

    registries = {"stock": Registry(args.stock_db), "addon": Registry(args.addon_db)}
    data = {name: prepare(reg, 1000) for name, reg in registries.items()}

    print("== batch write({'stage_id': ...}) on 1,000 leads, mail tracking on ==")
    times = {"stock": [], "addon": []}
    queries = {}
    for name, reg in registries.items():  # warm-up: registry caches, ormcache
        measure_write(reg, data[name][0], data[name][1])
    for _round in range(args.rounds):
        for name, reg in registries.items():
            elapsed, count = measure_write(reg, data[name][0], data[name][1])
            times[name].append(elapsed)
            queries[(name, 1000)] = count
    for name, reg in registries.items():
        queries[(name, 10)] = measure_write(reg, data[name][0][:10], data[name][1])[1]
    stock, addon = statistics.median(times["stock"]), statistics.median(times["addon"])
    # rounds alternate stock/addon: the median of the per-round ratios resists the drift of
    # a shared machine better than the ratio of medians
    paired = statistics.median(a / s for a, s in zip(times["addon"], times["stock"], strict=True))
    print(f"stock Odoo : median {stock * 1000:8.1f} ms  ({args.rounds} rounds)")
    print(f"with addon : median {addon * 1000:8.1f} ms")
    print(
        f"ratio addon/stock: {paired:.3f} (median of paired rounds; ratio of medians "
        f"{addon / stock:.3f})  target <= 1.15"
    )
    for name in registries:
        print(
            f"queries {name:5}: 10 leads -> {queries[(name, 10)]}, "
            f"1,000 leads -> {queries[(name, 1000)]}"
        )
    added_10 = queries[("addon", 10)] - queries[("stock", 10)]
    added_1000 = queries[("addon", 1000)] - queries[("stock", 1000)]
    print(f"queries added by the addon: {added_10} for 10 leads, {added_1000} for 1,000 leads")

    print(f"\n== install-time backfill on {args.backfill_leads:,} leads without history ==")
    reg = registries["addon"]
    with reg.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        start = time.perf_counter()
        generate_leads(env, args.backfill_leads, with_history=False, seed=11)
        cr.commit()
        print(f"generated in {time.perf_counter() - start:.1f} s")
        cr.execute("SELECT count(*) FROM crm_lead")
        total = cr.fetchone()[0]
        start = time.perf_counter()
        written = env["crm.lead.stage.history"]._backfill()
        cr.commit()
        elapsed = time.perf_counter() - start
    print(f"backfill: {written:,} rows written in {elapsed:.1f} s ({total:,} leads in the table)")
    print(f"backfill rate: {written / elapsed:,.0f} leads/s")


if __name__ == "__main__":
    main()
