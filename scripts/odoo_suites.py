"""Odoo's own test suites with and without the addon, from odoo-bin's logs (scripts/test.sh).

odoo_suites.py compare STOCK_LOG ADDON_LOG RERUN_FILE
    exit 0: the addon adds no failure; 2: some tests fail only with the addon (their
    classes, as odoo-bin test tags, are written to RERUN_FILE); 1: too few tests ran.
odoo_suites.py recheck STOCK_LOG RERUN_LOG
    exit 0 if the rerun ran tests and none of them failed that does not fail without
    the addon.
"""

import re
import sys

LINE = re.compile(r" ERROR \S+ [\w.]+: (?:FAIL|ERROR): (?:Subtest )?(.+?)\s*$")


def failures(path):
    """(tests run, {failing test: its class as a test tag})."""
    text = open(path, encoding="utf-8", errors="replace").read()
    ran = len(re.findall(r"odoo\.addons\.\w+\.tests\.\S+: Starting ", text))
    found = {}
    for line in text.splitlines():
        # "... ERROR <db> odoo.addons.crm.tests.x: FAIL: Subtest TestX.test_y (login='a')"
        match = LINE.search(line)
        if not match:
            continue
        test = match.group(1)
        module = re.search(r"odoo\.addons\.(\w+)\.tests", line)
        if test.startswith(("setUpClass", "tearDownClass")):
            cls = test.rstrip(")").rsplit(".", 1)[-1]
        else:
            test = test.split(" (")[0]  # a subtest's parameters name records by id
            cls = test.split(".")[0]
        found[test] = f"/{module.group(1) if module else 'crm'}:{cls}"
    return ran, found


def compare(stock_log, addon_log, rerun_file):
    (ran_stock, stock), (ran_addon, addon) = failures(stock_log), failures(addon_log)
    for label, ran, found in (("without", ran_stock, stock), ("with", ran_addon, addon)):
        names = ", ".join(sorted(found)) or "-"
        print(f"{label} the addon: {ran} tests run, {len(found)} failing: {names}")
    new = sorted(set(addon) - set(stock))
    for test in new:
        print(f"fails only with the addon: {test} (its class runs again)")
    with open(rerun_file, "w") as out:
        out.write(",".join(dict.fromkeys(addon[test] for test in new)))
    if ran_stock <= 100 or ran_addon < ran_stock:
        return 1
    return 2 if new else 0


def recheck(stock_log, rerun_log):
    (_ran, stock), (ran, rerun) = failures(stock_log), failures(rerun_log)
    new = sorted(set(rerun) - set(stock))
    for test in new:
        print(f"fails again with the addon: {test}")
    return 0 if ran and not new else 1


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    sys.exit({"compare": compare, "recheck": recheck}[command](*args))
