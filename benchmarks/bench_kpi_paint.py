"""First paint of Sales Control in a real browser, on the KPI benchmark's database.

Run by ``benchmarks/run_kpi.sh`` after ``bench_kpi.py`` (the database with 1,000,000 leads):
starts Odoo's HTTP server on it, logs in as the first benchmark team's head of sales, opens
*CRM > Reporting > Sales Control* in headless Chromium ``--rounds`` times and prints, per
load, the moment the dashboard was painted (``performance.now()`` when the OWL component is
mounted: the web client's own loading included) and the median.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from screenshots import Browser  # noqa: E402

LOGIN = "kpi_bench_head_0"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--port", type=int, default=18071)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    odoo_bin = ROOT / ".odoo/src/odoo-bin"
    # the head of sales' password (the generated users have none)
    subprocess.run(
        [sys.executable, str(odoo_bin), "shell", "-c", args.config, "-d", args.database,
         "--no-http"],
        input=f"env['res.users'].search([('login', '=', '{LOGIN}')]).password = '{LOGIN}'\n"
        "env.cr.commit()\n",
        text=True,
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, str(odoo_bin), "-c", args.config, "-d", args.database,
         "--http-interface=127.0.0.1", f"--http-port={args.port}", "--db-filter", args.database],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{args.port}"
    browser = None
    try:
        for _attempt in range(120):
            try:
                requests.get(f"{url}/web/login", timeout=2)
                break
            except requests.RequestException:
                time.sleep(1)
        session = requests.Session()
        auth = session.post(
            f"{url}/web/session/authenticate",
            json={"params": {"db": args.database, "login": LOGIN, "password": LOGIN}},
            timeout=60,
        ).json()
        if auth.get("error"):
            raise SystemExit(f"login failed: {auth['error']}")
        browser = Browser(port=9334)
        browser.use_session(session)
        paints = []
        for round_ in range(args.rounds + 1):
            browser.call(
                "Page.navigate",
                url=f"{url}/odoo/action-crm_regulation.crm_regulation_sales_control_action",
            )
            paint = None
            for _poll in range(240):
                time.sleep(0.25)
                result = browser.call(
                    "Runtime.evaluate",
                    expression="document.body && document.body.dataset.crmRegulationFirstPaint",
                    returnByValue=True,
                )
                paint = result.get("result", {}).get("value")
                if paint:
                    break
            if not paint:
                raise SystemExit("Sales Control was not painted within 60 s")
            label = "warm-up (assets compiled)" if round_ == 0 else f"load {round_}"
            print(f"{label}: first paint {int(paint):,} ms after navigation")
            if round_:
                paints.append(int(paint))
        median = statistics.median(paints)
        print(f"Sales Control first paint, median of {args.rounds}: {median:,.0f} ms")
    finally:
        if browser:
            browser.close()
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
