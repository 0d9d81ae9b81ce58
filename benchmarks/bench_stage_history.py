"""Benchmark of the stage history and the regulation engine, measured in one run against
stock Odoo.

Two databases with the same data: ``stock`` (crm only) and ``addon`` (crm + crm_regulation).
One Python process opens both registries and alternates the measurements, so both sides
run on the same machine state. Printed:

* batch ``write({'stage_id': ...})`` on 1,000 leads (mail tracking on, as in the UI), with
  20 active regulation rules and a 40-hour SLA on every open stage on the addon side (see
  ``create_rules``): median time with the addon / median time on stock Odoo (target
  <= 1.15), for bare leads and for leads as users have them (a customer, e-mail, phone,
  salesperson, tag), each measured twice: the write and its flush alone, and with what
  the commit of the request does first (the stage change's tracking messages);
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


def measure_write(registry, lead_ids, target_stage, committed=False):
    """One batch stage change, rolled back; returns (seconds, queries). ``committed``: with
    what the commit of the user's request does first (``cr.precommit``: the tracking
    messages of the stage change), as a move in the UI costs."""
    with registry.cursor() as cr:
        env = api.Environment(cr, ADMIN_UID, {})
        leads = env["crm.lead"].browse(lead_ids)
        queries = cr.sql_log_count
        start = time.perf_counter()
        leads.write({"stage_id": target_stage})
        env.flush_all()
        if committed:
            cr.precommit.run()
            env.flush_all()
        elapsed = time.perf_counter() - start
        queries = cr.sql_log_count - queries
        cr.rollback()
    return elapsed, queries


def create_rules(env, stages, count=20):
    """A realistic regulation of ``count`` active rules for the benchmark team. The batch
    move (to "Bench Contract") meets every rule that applies to it, so it goes through:

    * 4 rules target Bench Contract (required fields, conditions, a condition domain,
      one warning rule), plus the stage's own required fields;
    * the others target other stages, won, lost, or another team, so the engine has to
      tell them apart, as in a real configuration.
    """
    Rule = env["crm.regulation.rule"]
    team = stages.team_ids[:1]
    other_team = env["crm.team"].create({"name": "Bench Other Team"})
    fields_ = env["ir.model.fields"].search(
        [("model", "=", "crm.lead"), ("name", "in", ["name", "user_id", "contract_signed"])]
    )
    by_name = {field.name: field for field in fields_}
    contract = stages.filtered(lambda s: s.name == "Bench Contract")
    contract.required_field_ids = by_name["name"] | by_name["user_id"]
    others = stages - contract
    vals = [
        {
            "name": "Contract: salesperson set",
            "to_stage_id": contract.id,
            "required_field_ids": [(6, 0, by_name["user_id"].ids)],
        },
        {
            "name": "Contract: opportunities only",
            "to_stage_id": contract.id,
            "required_domain": "[('type', '=', 'opportunity')]",
        },
        {
            "name": "Contract: named deals",
            "to_stage_id": contract.id,
            "condition_domain": "[('expected_revenue', '>=', 0)]",
            "required_domain": "[('name', '!=', False)]",
        },
        {
            "name": "Contract: warning",
            "to_stage_id": contract.id,
            "severity": "warn",
            "required_domain": "[('active', '=', True)]",
        },
    ]
    vals += [
        {
            "name": f"Stage rule {i}",
            "to_stage_id": others[i % len(others)].id,
            "required_field_ids": [(6, 0, by_name["name"].ids)],
        }
        for i in range(6)
    ]
    vals += [
        {
            "name": f"Won rule {i}",
            "target": "won",
            "required_domain": "[('contract_signed', '=', True)]",
        }
        for i in range(4)
    ]
    vals += [
        {
            "name": f"Lost rule {i}",
            "target": "lost",
            "required_field_ids": [(6, 0, by_name["name"].ids)],
        }
        for i in range(3)
    ]
    vals += [
        {
            "name": f"Other team rule {i}",
            "to_stage_id": contract.id,
            "team_ids": [(6, 0, other_team.ids)],
            "required_field_ids": [(6, 0, by_name["contract_signed"].ids)],
        }
        for i in range(count - len(vals))
    ]
    for values in vals:
        values.setdefault("team_ids", [(6, 0, team.ids)])
    return Rule.create(vals[:count])


def prepare(registry, count, mode=None):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        ids = generate_leads(env, count, seed=7)
        if mode:
            # the regulation mode of every team of the addon's databases
            env["crm.team"].with_context(active_test=False).search([]).regulation_mode = mode
        stages = env["crm.stage"].search([("name", "like", "Bench %")], order="sequence")
        # every lead moves: pick a stage none of them is in (the won stage is excluded)
        target = stages.filtered(lambda s: s.name == "Bench Contract")
        cr.execute(
            "UPDATE crm_lead SET stage_id = %s WHERE id = ANY(%s) AND stage_id = %s",
            [stages[0].id, ids, target.id],
        )
        if "outcome" in env["crm.lead"]._fields:
            # the generator writes SQL: give the addon's columns what an ORM create (or the
            # install, for existing leads) gives them, or the first move would write them
            from odoo.addons.crm_regulation.hooks import prefill_outcome_columns  # noqa: PLC0415

            prefill_outcome_columns(cr)
        if "crm.regulation.rule" in env and not env["crm.regulation.rule"].search_count([]):
            rules = create_rules(env, stages)
            print(f"{len(rules)} active regulation rules on the addon side")
            # and a stage SLA on every open stage (the demo's typical targets): the leads
            # get their deadlines (set-based), the moved ones a new one in Bench Contract
            for stage in stages.filtered(lambda s: not s.is_won):
                stage.sla_hours = 40
            print(
                f"stage SLAs: {len(stages) - 1} stages, "
                f"{env['crm.lead'].search_count([('sla_state', '!=', False)])} leads on an SLA"
            )
        if "sla_state" in env["crm.lead"]._fields:
            # leads generated by a later run (databases kept) get their SLA like the first
            env["crm.lead"]._sla_reschedule(lead_ids=ids)
        if "crm.lead.stage.history" in env:
            cr.execute(
                """UPDATE crm_lead_stage_history SET stage_id = %s
                    WHERE lead_id = ANY(%s) AND stage_id = %s AND date_out IS NULL""",
                [stages[0].id, ids, target.id],
            )
        cr.commit()
        return ids, target.id


def prepare_shapes(registry, ids):
    """{"bare": leads as generated, "users": leads as users have them}: the second half of
    ``ids`` gets a customer (its own partner with e-mail and phone), the partner's e-mail
    and phone on the lead, and a tag (the salesperson is set by the generator)."""
    half = len(ids) // 2
    bare, users = ids[:half], ids[half:]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        tag = env["crm.tag"].search([("name", "=", "Bench Tag")], limit=1) or env["crm.tag"].create(
            {"name": "Bench Tag"}
        )
        env.flush_all()
        cr.execute(
            """
            WITH p AS (
                INSERT INTO res_partner (name, complete_name, email, email_normalized, phone,
                                         active, type, is_company, lang,
                                         create_date, write_date, create_uid, write_uid)
                SELECT 'Bench customer ' || l.id, 'Bench customer ' || l.id,
                       'customer' || l.id || '@example.com', 'customer' || l.id || '@example.com',
                       '+3212345' || lpad(l.id::text, 6, '0'), TRUE, 'contact', FALSE, 'en_US',
                       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
                  FROM crm_lead l WHERE l.id = ANY(%(ids)s)
                RETURNING id, name
            )
            UPDATE crm_lead l
               SET partner_id = p.id,
                   email_from = 'customer' || l.id || '@example.com',
                   email_normalized = 'customer' || l.id || '@example.com',
                   phone = '+3212345' || lpad(l.id::text, 6, '0'),
                   phone_sanitized = '+3212345' || lpad(l.id::text, 6, '0'),
                   contact_name = p.name
              FROM p WHERE p.name = 'Bench customer ' || l.id
            """,
            {"ids": users},
        )
        cr.execute(
            """INSERT INTO crm_tag_rel (lead_id, tag_id)
               SELECT unnest(%s::int[]), %s ON CONFLICT DO NOTHING""",
            [users, tag.id],
        )
        cr.commit()
    return {"bare": bare, "users": users}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("--stock-db", required=True)
    parser.add_argument("--addon-db", required=True)
    parser.add_argument("--audit-db", help="a copy of the addon's database, teams in audit")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--committed-rounds", type=int, default=5)
    parser.add_argument("--backfill-leads", type=int, default=100_000)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])

    registries = {"stock": Registry(args.stock_db), "addon": Registry(args.addon_db)}
    team_modes = {"stock": None, "addon": "enforce"}
    if args.audit_db:
        registries["audit"] = Registry(args.audit_db)
        team_modes["audit"] = "audit"
    data = {}
    for name, reg in registries.items():
        ids, target = prepare(reg, 2000, team_modes[name])
        data[name] = (prepare_shapes(reg, ids), target)
        with reg.cursor() as cr:
            # planner statistics, as a database in use has them (the generated rows have none)
            cr.execute("ANALYZE")
        # what the end of a request does: the caches cleared by the set-up are signalled
        # (a request that changed no configuration starts from there)
        reg.signal_changes()

    shapes = {
        "bare": "bare leads",
        "users": "leads as users have them (customer, e-mail, phone, salesperson, tag)",
    }
    modes = {
        "write": (args.rounds, "write + flush"),
        "committed": (args.committed_rounds, "write + flush + the commit's tracking messages"),
    }
    for mode, (rounds, mode_label) in modes.items():
        if not rounds:
            continue
        committed = mode == "committed"
        times = {(name, shape): [] for name in registries for shape in shapes}
        queries = {}
        for shape in shapes:
            for name, reg in registries.items():  # warm-up: registry caches, ormcache
                measure_write(reg, data[name][0][shape], data[name][1], committed)
        for _round in range(rounds):
            for shape in shapes:
                for name, reg in registries.items():
                    elapsed, count = measure_write(
                        reg, data[name][0][shape], data[name][1], committed
                    )
                    times[name, shape].append(elapsed)
                    queries[(name, shape, 1000)] = count
        for shape, label in shapes.items():
            for name, reg in registries.items():
                queries[(name, shape, 10)] = measure_write(
                    reg, data[name][0][shape][:10], data[name][1], committed
                )[1]
            print(
                f"== batch write({{'stage_id': ...}}) on 1,000 {label}, mail tracking on: "
                f"{mode_label} =="
            )
            stock_times, addon_times = times["stock", shape], times["addon", shape]
            stock, addon = statistics.median(stock_times), statistics.median(addon_times)
            # rounds alternate stock/addon: the median of the per-round ratios resists the
            # drift of a shared machine better than the ratio of medians
            paired = statistics.median(a / s for a, s in zip(addon_times, stock_times, strict=True))
            print(f"stock Odoo : median {stock * 1000:8.1f} ms  ({rounds} rounds)")
            print(f"with addon : median {addon * 1000:8.1f} ms (teams in enforce)")
            print(
                f"ratio addon/stock: {paired:.3f} (median of paired rounds; ratio of medians "
                f"{addon / stock:.3f})  target <= 1.15"
            )
            if "audit" in registries:
                audit_times = times["audit", shape]
                audit = statistics.median(audit_times)
                print(f"audit mode : median {audit * 1000:8.1f} ms (teams in audit)")
                versus = statistics.median(
                    a / e for a, e in zip(audit_times, addon_times, strict=True)
                )
                print(
                    f"ratio audit/enforce: {versus:.3f} (median of paired rounds)  "
                    "target <= 1.0 (noise: a few %)"
                )
            for name in registries:
                print(
                    f"queries {name:5}: 10 leads -> {queries[(name, shape, 10)]}, "
                    f"1,000 leads -> {queries[(name, shape, 1000)]}"
                )
            added_10 = queries[("addon", shape, 10)] - queries[("stock", shape, 10)]
            added_1000 = queries[("addon", shape, 1000)] - queries[("stock", shape, 1000)]
            print(
                f"queries added by the addon: {added_10} for 10 leads, {added_1000} for "
                "1,000 leads\n"
            )

    if not args.backfill_leads:
        return
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
