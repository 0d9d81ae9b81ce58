"""Benchmark of the data standard on import, measured in one run: ``--leads`` leads imported
through ``crm.lead.load()`` (the import path of Odoo's import dialog, in its batches of
``--batch`` rows) with the customer's name, company, e-mail, phone (mixed formats of valid
Russian and foreign numbers), salesperson (by name) and tags (by name), once per phone
standard of the company (off, flag, required). The standards are interleaved call by call:
each ``load()`` call is timed under the three standards one after the other (in a rotating
order), rolled back each time, so that a machine shared with other work slows the three
alike. Printed: per standard the median over the rounds of the time of the whole import, ms
per lead, the ratio of the medians to ``off`` and the median of the per-call ratios (target
≤ 1.05).
"""

import argparse
import random
import statistics
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

FIELDS = ["name", "contact_name", "partner_name", "email_from", "phone", "user_id", "tag_ids"]
STANDARDS = ("off", "flag", "required")
FORMS = ("ООО «{}»", "{}, ООО", "АО {}", "{} LLC", "{}")


def phone(rng, n):
    """A valid number in one of the formats people type."""
    national = f"9{rng.randrange(10**8, 10**9):09d}"[:10]
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    return [
        f"8 {a} {b}-{c}-{d}",
        f"+7 ({a}) {b}{c}{d}",
        f"8{national}",
        f"+7{national}",
        f"+7 {a} {b} {c} {d}",
        f"+1 202 555 {n % 10000:04d}",
        f"+44 20 7946 {n % 10000:04d}",
    ][n % 7]


def rows(count, salespeople, tags, seed=7):
    rng = random.Random(seed)
    for n in range(count):
        company = rng.choice(FORMS).format(f"Компания {n % 3000}")
        yield [
            f"Import lead {n}",
            f"Customer {n}",
            company,
            f"customer{n}@example.com",
            phone(rng, n),
            salespeople[n % len(salespeople)],
            ",".join(rng.sample(tags, 2)),
        ]


def setup(env, salespeople_count, tag_count):
    """The company in Russia, salespeople in one team, tags: names for the import."""
    company = env.company
    company.country_id = env.ref("base.ru")
    users = env["res.users"].create(
        [
            {
                "name": f"Import Salesperson {n}",
                "login": f"bench_import_sp_{n}",
                "group_ids": [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
            }
            for n in range(salespeople_count)
        ]
    )
    env["crm.team"].create({"name": "Import team", "member_ids": [(6, 0, users.ids)]})
    tags = env["crm.tag"].create([{"name": f"Import tag {n}"} for n in range(tag_count)])
    return users.mapped("name"), tags.mapped("name")


def import_batch(registry, standard, rows_, batch):
    """(seconds, leads created, phones in the regulation's format) of importing ``rows_``
    (``load()`` calls of ``batch`` rows) under the phone standard ``standard``; rolled back."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env.company.crm_phone_standard = standard
        env.flush_all()
        # as the import dialog by default ("track history during import" off)
        Lead = env["crm.lead"].with_context(import_file=True, tracking_disable=True)
        start = time.perf_counter()
        created = 0
        for index in range(0, len(rows_), batch):
            result = Lead.load(FIELDS, rows_[index : index + batch])
            errors = [m for m in result["messages"] if m.get("type") == "error"]
            if errors:
                raise SystemExit(f"{standard}: import refused: {errors[:3]}")
            created += len([i for i in result["ids"] or [] if i])
            env.flush_all()
        elapsed = time.perf_counter() - start
        cr.execute("SELECT count(*) FROM crm_lead WHERE phone LIKE '+7 (%%'")
        formatted = cr.fetchone()[0]
        cr.rollback()
    return elapsed, created, formatted


def entry_cost(registry, data, repeat=5):
    """{standard: ms per lead} of the data standard's entry path alone
    (``_data_standard_create`` of the rows' values, median of ``repeat``): what the
    standard adds to each create, without the rest of the import."""
    result = {}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Lead = env["crm.lead"]
        values = [dict(zip(FIELDS[:5], row[:5], strict=True)) for row in data]
        for standard in STANDARDS:
            env.company.crm_phone_standard = standard
            times = []
            for _time in range(repeat):
                start = time.perf_counter()
                Lead._data_standard_create([dict(vals) for vals in values])
                times.append(time.perf_counter() - start)
            result[standard] = statistics.median(times) * 1000 / len(values)
        cr.rollback()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2000, help="rows per load() call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--salespeople", type=int, default=20)
    parser.add_argument("--tags", type=int, default=10)
    args = parser.parse_args()
    config.parse_config(["-c", args.config])
    registry = Registry(args.database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute("SELECT count(*) FROM res_users WHERE login LIKE 'bench_import_sp_%%'")
        if cr.fetchone()[0]:
            salespeople = env["res.users"].search([("login", "like", "bench_import_sp_")])
            names = salespeople.mapped("name")
            tags = env["crm.tag"].search([("name", "like", "Import tag ")]).mapped("name")
        else:
            names, tags = setup(env, args.salespeople, args.tags)
    data = list(rows(args.leads, names, tags))
    chunks = [data[index : index + args.batch] for index in range(0, len(data), args.batch)]
    print(
        f"== import of {args.leads:,} leads through crm.lead.load(), {args.batch} per call, "
        f"{args.rounds} rounds =="
    )
    print(
        "(each load() call of a round is timed under the three standards one after the "
        "other, rolled back each time: a machine shared with other work slows the three "
        "alike)"
    )
    entry = entry_cost(registry, data)
    print(
        "the entry path alone (_data_standard_create, ms per lead): "
        + ", ".join(f"{standard} {entry[standard]:.3f}" for standard in STANDARDS)
    )
    if not args.rounds:
        return
    import_batch(registry, "off", chunks[0], args.batch)  # warm-up, not measured
    totals = {standard: [0.0] * args.rounds for standard in STANDARDS}
    ratios = {standard: [] for standard in STANDARDS}
    formatted = dict.fromkeys(STANDARDS, 0)
    for round_ in range(args.rounds):
        for number, chunk in enumerate(chunks):
            shift = (round_ * len(chunks) + number) % len(STANDARDS)
            order = STANDARDS[shift:] + STANDARDS[:shift]
            slot = {}
            for standard in order:
                elapsed, created, shown = import_batch(registry, standard, chunk, args.batch)
                assert created == len(chunk), (standard, created)
                slot[standard] = elapsed
                totals[standard][round_] += elapsed
                if round_ == 0:
                    formatted[standard] += shown
            for standard in STANDARDS:
                ratios[standard].append(slot[standard] / slot["off"])
        print(
            f"  round {round_ + 1}: "
            + ", ".join(f"{s} {totals[s][round_]:.1f} s" for s in STANDARDS),
            flush=True,
        )
    base = statistics.median(totals["off"])
    print(
        "\n| phone standard | median time (10,000 leads) | ms per lead | ratio of the medians "
        "| median ratio per call | phones +7 (...) |"
    )
    print("|---|---|---|---|---|---|")
    for standard in STANDARDS:
        median = statistics.median(totals[standard])
        print(
            f"| {standard} | {median:.1f} s | {median * 1000 / args.leads:.2f} "
            f"| {median / base:.3f} | {statistics.median(ratios[standard]):.3f} "
            f"| {formatted[standard]:,} |"
        )
    per_lead = base * 1000 / args.leads
    print(
        "\nthe entry path's own cost over the import's (off) time per lead: "
        + ", ".join(
            f"{standard} +{(entry[standard] - entry['off']) / per_lead:.2%}"
            for standard in STANDARDS[1:]
        )
    )


if __name__ == "__main__":
    main()
