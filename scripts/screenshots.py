"""Screenshots of the demo for the README (headless Chromium driven over DevTools).

Run while ``scripts/run.sh`` serves the demo database::

    .venv/bin/pip install websocket-client   # once; not needed by the addon itself
    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8069]

Writes PNG files into crm_regulation/static/description/.
"""

import argparse
import base64
import itertools
import json
import pathlib
import shutil
import subprocess
import tempfile
import time

import requests
import websocket

OUT = pathlib.Path(__file__).resolve().parent.parent / "crm_regulation/static/description"


class Browser:
    def __init__(self, port=9333, size=(1440, 900)):
        self.profile = tempfile.mkdtemp(prefix="crm_regulation_chrome_")
        binary = shutil.which("chromium") or shutil.which("google-chrome")
        if not binary:
            raise SystemExit("no chromium on PATH: apt-get install chromium")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1",
                f"--remote-allow-origins=http://127.0.0.1:{port}",
                f"--window-size={size[0]},{size[1]}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _attempt in range(50):
            try:
                pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("chromium did not start")
        page = next(p for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.ids = itertools.count(1)

    def call(self, method, **params):
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                return message.get("result", {})

    def use_session(self, session):
        """Browse as the user logged in by ``session`` (requests.Session: its Odoo cookie)."""
        self.call("Network.enable")
        self.call(
            "Network.setCookie",
            name="session_id",
            value=session.cookies["session_id"],
            domain="127.0.0.1",
            path="/",
        )

    def shot(self, url, path, wait=12.0, click=None, click_text=None, script=None):
        """Screenshot of ``url``, after clicking the element matching the CSS selector
        ``click`` or the button whose text is ``click_text``, and running the JavaScript
        ``script``, if given."""
        self.call("Page.navigate", url=url)
        time.sleep(wait)
        if script:
            self.call("Runtime.evaluate", expression=script)
            time.sleep(1)
        if click:
            self.call("Runtime.evaluate", expression=f"document.querySelector('{click}').click()")
            time.sleep(wait / 2)
        if click_text:
            self.call(
                "Runtime.evaluate",
                expression="[...document.querySelectorAll('button')]"
                f".find((b) => b.textContent.trim() === {json.dumps(click_text)}).click()",
            )
            time.sleep(wait / 2)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"{path.name}: {url}")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="crm_regulation_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument(
        "--only",
        choices=["digest", "revival", "roles", "data"],
        help="only the digest's, the revival's, the role matrix's or the data standards' shots",
    )
    args = parser.parse_args()

    session = requests.Session()
    auth = session.post(
        f"{args.url}/web/session/authenticate",
        json={"params": {"db": args.db, "login": args.login, "password": args.password}},
        timeout=30,
    ).json()
    if auth.get("error"):
        raise SystemExit(f"login failed: {auth['error']}")

    def rpc(model, method, *call_args, **kwargs):
        response = session.post(
            f"{args.url}/web/dataset/call_kw",
            json={
                "params": {
                    "model": model,
                    "method": method,
                    "args": list(call_args),
                    "kwargs": kwargs,
                }
            },
            timeout=30,
        ).json()
        return response["result"]

    # the demo lead with the longest history
    lead_ids = rpc(
        "crm.lead",
        "search",
        [("team_id.name", "=", "Residential Sales"), ("stage_id.name", "=", "Negotiation")],
        limit=1,
    )
    browser = Browser()
    try:
        browser.use_session(session)
        sections = {
            "roles": lambda: browser.shot(
                f"{args.url}/odoo/action-crm_regulation.crm_rights_audit_action_open",
                OUT / "screenshot_rights_audit.png",
            ),
            "data": lambda: shoot_data_standards(browser, rpc, args.url),
            "revival": lambda: shoot_revival(browser, rpc, args.url),
        }
        for name, shoot in sections.items():
            if args.only in (None, name):
                shoot()
        if args.only in sections:
            return
        shoot_digest(browser, rpc, args.url, args.db)
        if args.only == "digest":
            return
        if lead_ids:
            browser.shot(f"{args.url}/odoo/crm/{lead_ids[0]}", OUT / "screenshot_lead_form.png")
            browser.shot(
                f"{args.url}/odoo/crm/{lead_ids[0]}",
                OUT / "screenshot_lead_history.png",
                click="button[name=action_view_stage_history]",
            )
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_lead_stage_history_action_report",
            OUT / "screenshot_time_in_stage.png",
        )
        # the regulation: a lead about to be won (its checklist), the rules, the document
        contract_ids = rpc(
            "crm.lead",
            "search",
            [("team_id.name", "=", "Residential Sales"), ("stage_id.name", "=", "Contract")],
            limit=1,
        )
        if contract_ids:
            browser.shot(f"{args.url}/odoo/crm/{contract_ids[0]}", OUT / "screenshot_checklist.png")
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_regulation_rule_action",
            OUT / "screenshot_rules.png",
        )
        # disqualification vs loss: the dialog, the review queue, the outcome analysis
        open_ids = rpc(
            "crm.lead",
            "search",
            [("team_id.name", "=", "Residential Sales"), ("stage_id.name", "=", "New Lead")],
            limit=1,
        )
        if open_ids:
            browser.shot(
                f"{args.url}/odoo/crm/{open_ids[0]}",
                OUT / "screenshot_disqualify_dialog.png",
                click_text="Disqualify",
            )
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_lead_loss_review_action",
            OUT / "screenshot_loss_review.png",
        )
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_lead_outcome_report_action",
            OUT / "screenshot_outcomes.png",
        )
        team_ids = rpc("crm.team", "search", [("name", "=", "Residential Sales")], limit=1)
        # stage SLAs: the watcher flags the demo leads, then the team's pipeline
        cron_ids = rpc("ir.cron", "search", [("cron_name", "=", "CRM Regulation: stage SLAs")])
        if cron_ids:
            rpc("ir.cron", "method_direct_trigger", cron_ids)
        if team_ids:
            browser.shot(
                f"{args.url}/odoo/action-crm.crm_case_form_view_salesteams_opportunity"
                f"?active_id={team_ids[0]}",
                OUT / "screenshot_sla_pipeline.png",
                # the team's own stages: past the three (empty) stages shared by all teams
                script="document.querySelectorAll('.o_content, .o_kanban_renderer, .o_action')"
                ".forEach((e) => { e.scrollLeft = 1000; })",
            )
        if team_ids:
            browser.shot(
                f"{args.url}/report/html/crm_regulation.report_sales_regulation/{team_ids[0]}",
                OUT / "screenshot_regulation_document.png",
            )
        # the rollout: the compliance log of the pilot, a team still in audit
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_regulation_violation_action",
            OUT / "screenshot_compliance.png",
        )
        audit_ids = rpc("crm.team", "search", [("regulation_mode", "=", "audit")], limit=1)
        if audit_ids:
            browser.shot(
                f"{args.url}/odoo/action-sales_team.crm_team_action_config/{audit_ids[0]}",
                OUT / "screenshot_team_rollout.png",
            )
        # the figures: Sales Control, the funnel report, the lead sources
        demo_team = rpc("crm.team", "search", [("name", "=", "Residential Sales")], limit=1)
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_regulation_sales_control_action",
            OUT / "screenshot_sales_control.png",
            # the demo team (the dashboard opens on the first team the user leads)
            script="const s = document.querySelector('.o_sales_control_team');"
            f"s.value = '{demo_team[0] if demo_team else ''}';"
            "s.dispatchEvent(new Event('change'));",
        )
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_regulation_funnel_report_action",
            OUT / "screenshot_funnel_report.png",
        )
        browser.shot(
            f"{args.url}/odoo/action-crm_regulation.crm_lead_source_report_action",
            OUT / "screenshot_lead_sources.png",
        )
    finally:
        browser.close()


def shoot_data_standards(browser, rpc, url):
    """The data standards: the duplicates queue (after a sweep of the demo database), the
    data quality per salesperson, a normalization's dry run."""
    # the demo's company typed with its legal form: one group of the sweep, with its leads
    group_ids = rpc("crm.duplicate.group", "search", [("key_value", "=", "volga foods")], limit=1)
    browser.shot(
        f"{url}/odoo/action-crm_regulation.crm_duplicate_group_action/{group_ids[0]}"
        if group_ids
        else f"{url}/odoo/action-crm_regulation.crm_duplicate_group_action",
        OUT / "screenshot_duplicates.png",
    )
    browser.shot(
        f"{url}/odoo/action-crm_regulation.crm_data_quality_report_action",
        OUT / "screenshot_data_quality.png",
    )
    # a normalization counted by its dry run (create one by hand first), else the list
    run_ids = rpc("crm.data.normalization", "search", [("state", "=", "counted")], limit=1)
    browser.shot(
        f"{url}/odoo/action-crm_regulation.crm_data_normalization_action"
        + (f"/{run_ids[0]}" if run_ids else ""),
        OUT / "screenshot_normalization.png",
    )


def shoot_revival(browser, rpc, url):
    """The revival program: the demo's family program (its segment and steps, its figures)
    and the revival report per program and step."""
    program_ids = rpc(
        "crm.revival.program", "search", [("name", "=", "Families with a mortgage")], limit=1
    )
    if program_ids:
        browser.shot(
            f"{url}/odoo/action-crm_regulation.crm_revival_program_action/{program_ids[0]}",
            OUT / "screenshot_revival_program.png",
        )
    browser.shot(
        f"{url}/odoo/action-crm_regulation.crm_revival_report_action",
        OUT / "screenshot_revival_report.png",
        # every enrollment of the demo, whenever it entered
        script="document.querySelectorAll('.o_searchview .o_facet_remove')"
        ".forEach((e) => e.click())",
    )


def shoot_digest(browser, rpc, url, db):
    """The sales digest of the demo team as a phone shows it, and its workbook's first pages
    (LibreOffice, when installed, prints the XLSX)."""
    team = rpc("crm.team", "search", [("name", "=", "Residential Sales")], limit=1)
    kpis = rpc(
        "crm.regulation.kpi",
        "search",
        [
            (
                "code",
                "in",
                [
                    "new_leads",
                    "first_contact_hours_median",
                    "qualification_rate",
                    "win_rate",
                    "revenue_won",
                ],
            )
        ],
    )
    digest = rpc(
        "digest.digest",
        "create",
        {
            "name": "Sales control: end of the day",
            "periodicity": "weekly",
            "crm_regulation": True,
            "crm_team_ids": [(6, 0, team)],
            "crm_kpi_ids": [(6, 0, kpis)],
            "crm_todo_limit": 3,
        },
    )
    rpc("digest.digest", "action_crm_send_preview", [digest])
    mail_id = rpc(
        "mail.mail", "search", [("subject", "like", "[Preview]")], limit=1, order="id desc"
    )
    mail = rpc("mail.mail", "read", mail_id, ["body_html"])[0]
    folder = pathlib.Path(tempfile.mkdtemp(prefix="crm_regulation_digest_"))
    (folder / "digest.html").write_text(mail["body_html"], encoding="utf-8")
    # a phone's width, the whole e-mail's height
    metrics = {"width": 412, "deviceScaleFactor": 1, "mobile": True}
    browser.call("Emulation.setDeviceMetricsOverride", height=900, **metrics)
    browser.call("Page.navigate", url=f"file://{folder / 'digest.html'}")
    time.sleep(2)
    height = browser.call(
        "Runtime.evaluate", expression="document.querySelector('table').scrollHeight + 24"
    )["result"]["value"]
    browser.call("Emulation.setDeviceMetricsOverride", height=height, **metrics)
    browser.shot(f"file://{folder / 'digest.html'}", OUT / "screenshot_digest_mail.png", wait=2)
    browser.call("Emulation.clearDeviceMetricsOverride")
    # the workbook is readable by the system only: read in an Odoo shell on the same database
    root = pathlib.Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            str(root / ".venv/bin/python"),
            str(root / ".odoo/src/odoo-bin"),
            "shell",
            "-c",
            str(root / ".odoo/run.conf"),
            "-d",
            db,
            "--no-http",
        ],
        input=f"open({str(folder / 'digest.xlsx')!r}, 'wb').write("
        f"env['mail.mail'].browse({mail_id[0]}).attachment_ids[:1].raw)\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=300,
    )
    rpc("digest.digest", "unlink", [digest])
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftoppm"):
        print("no LibreOffice or pdftoppm: no shot of the workbook")
        return
    subprocess.run(
        [
            soffice,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(folder / "digest.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", str(folder / "digest.pdf"), str(folder / "page")],
        check=True,
        timeout=120,
    )
    from PIL import Image, ImageChops  # noqa: PLC0415 (Odoo's own dependency)

    pages = sorted(folder.glob("page*.png"))
    for index, page in enumerate(pages[:4], 1):
        image = Image.open(page).convert("RGB")
        box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
        if box:  # the printed area, with a margin
            image = image.crop((max(box[0] - 12, 0), max(box[1] - 12, 0), box[2] + 12, box[3] + 12))
        image.save(OUT / f"screenshot_digest_workbook_{index}.png")
        print(f"screenshot_digest_workbook_{index}.png: {page.name} of {len(pages)}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
