"""Memory of the digests' XLSX workbook (crm_regulation/models/kpi_workbook.py): the peak
Python memory (tracemalloc) and the time of a workbook whose *To do* sheet has 10 rows and
one with ``--rows`` rows (100,000 by default, a link on each), and the ratio; xlsxwriter's
constant memory mode keeps the rows out of memory, the links it holds are capped
(``LINK_LIMIT``). No database needed::

    .venv/bin/python benchmarks/bench_workbook.py [--rows 100000]
"""

import argparse
import importlib.util
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "crm_regulation/models/kpi_workbook.py"
spec = importlib.util.spec_from_file_location("kpi_workbook", SOURCE)
kpi_workbook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kpi_workbook)
Column, Sheet = kpi_workbook.Column, kpi_workbook.Sheet


def todo_rows(count):
    start = datetime(2026, 11, 2, 9, 0)
    for index in range(count):
        yield (
            ("SLA breached", "Forgotten", "Not qualified in time")[index % 3],
            (f"https://odoo.example.com/odoo/crm/{index}", f"Lead {index}: 2-room apartment"),
            f"Salesperson {index % 50}",
            start + timedelta(minutes=index),
        )


def sheets_of(count):
    return [
        Sheet("Summary", [Column("KPI", "text"), Column("Value", "number")], [("New leads", 5)]),
        Sheet(
            "To do",
            [
                Column("List", "text"),
                Column("Lead", "link"),
                Column("Salesperson", "text"),
                Column("Since", "datetime"),
            ],
            todo_rows(count),
        ),
    ]


def measure(count):
    """(peak memory, time, file size): the time without tracemalloc (which slows every
    allocation), the peak in a second run under it."""
    started = time.perf_counter()
    data = kpi_workbook.write_workbook(sheets_of(count))
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    kpi_workbook.write_workbook(sheets_of(count))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, elapsed, len(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    small = measure(10)
    large = measure(args.rows)
    for label, (peak, elapsed, size) in (("10 rows", small), (f"{args.rows:,} rows", large)):
        print(
            f"{label:>14}: peak {peak / 2**20:6.2f} MiB, {elapsed:6.2f} s, "
            f"file {size / 2**20:6.2f} MiB"
        )
    print(f"peak memory ratio ({args.rows:,} / 10 rows): {large[0] / small[0]:.2f}")


if __name__ == "__main__":
    main()
