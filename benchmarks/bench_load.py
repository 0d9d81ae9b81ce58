"""Load benchmark: Odoo's multi-worker server under API clients, with and without the addon.

Three sub-commands, run by ``benchmarks/run_load.sh`` (which creates the databases and
starts the servers)::

    bench_load.py prepare -c CONF -d DB --clients 50 --leads 20 --out DB.json
        (inside Odoo) a team, its stages, one salesperson per client with an API key and
        their leads (a customer, e-mail, phone, tags); with the addon, SLAs, a
        qualification deadline and stale days on the team, and part of the leads made due
        for the watchers, whose crons then run every minute.
    bench_load.py drive --url URL --db DB --setup DB.json --seconds 60 --out RESULT.json
        (plain HTTP) one thread per salesperson calling Odoo's JSON-2 API on their own
        leads: pipeline reads, stage moves, wins, losses with a reason, returns to work,
        creations. Latency of every call, errors by kind, the successful moves of each lead.
    bench_load.py due -c CONF -d DB
        (inside Odoo) what the watchers still have to do (0 when they are done).

Errors are sorted into the regulation's refusals (``UserError``/``ValidationError``: the
client asked for what the regulation refuses), application errors (any other error
answer: a bug or a conflict surfaced to the client) and transport errors (no answer: a
killed worker, a restarted database).
"""

import argparse
import http.client
import json
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict

STAGES = ["Load New", "Load Qualified", "Load Proposal", "Load Negotiation"]
REFUSALS = {"odoo.exceptions.UserError", "odoo.exceptions.ValidationError"}
# the mix of operations of a salesperson's working day (weights)
MIX = {
    "read_pipeline": 30,
    "move": 34,
    "win": 8,
    "lose": 8,
    "return": 8,
    "create": 12,
}


# ------------------------------------------------------------------------------------------
# prepare (inside Odoo)
# ------------------------------------------------------------------------------------------


def prepare(env, clients, leads_per_client, seed=7):
    rnd = random.Random(seed)
    addon = "crm.lead.stage.history" in env
    Users = env["res.users"].with_context(no_reset_password=True, mail_create_nolog=True)
    leader = Users.create(
        {
            "name": "Load Leader",
            "login": "load_leader",
            "group_ids": [(4, env.ref("sales_team.group_sale_manager").id)],
        }
    )
    users = Users.create(
        [
            {
                "name": f"Load Salesperson {i:02d}",
                "login": f"load_sales_{i:02d}",
                "email": f"load_sales_{i:02d}@example.com",
                "group_ids": [(4, env.ref("sales_team.group_sale_salesman").id)],
            }
            for i in range(clients)
        ]
    )
    team = env["crm.team"].create(
        {"name": "Load Team", "user_id": leader.id, "member_ids": [(6, 0, users.ids)]}
    )
    stages = env["crm.stage"].create(
        [
            {"name": name, "sequence": 900 + i, "team_ids": [(6, 0, team.ids)]}
            for i, name in enumerate(STAGES)
        ]
        + [{"name": "Load Won", "sequence": 999, "is_won": True, "team_ids": [(6, 0, team.ids)]}]
    )
    reasons = env["crm.lost.reason"].search([], order="id")
    if addon:
        reasons = reasons.filtered(lambda r: r.category != "disqualification")
        stages[:3].write({"sla_hours": 8})
        team.write(
            {
                "qualification_stage_id": stages[1].id,
                "qualification_hours": 24,
                "qualification_warning_hours": 4,
                "stale_days": 30,
            }
        )
    tags = env["crm.tag"].create([{"name": f"Load tag {i}"} for i in range(6)])
    partners = env["res.partner"].create(
        [
            {
                "name": f"Load Customer {i}",
                "email": f"customer{i}@example.com",
                "phone": f"+1 555 {1000000 + i}",
                "is_company": True,
            }
            for i in range(clients * leads_per_client)
        ]
    )
    setup = {
        "db": env.cr.dbname,
        "addon": addon,
        "team_id": team.id,
        "stage_ids": stages[:4].ids,
        "won_stage_id": stages[4].id,
        "lost_reason_ids": reasons.ids,
        "tag_ids": tags.ids,
        "clients": [],
    }
    Keys = env["res.users.apikeys"]
    for index, user in enumerate(users):
        mine = partners[index * leads_per_client : (index + 1) * leads_per_client]
        leads = (
            env["crm.lead"]
            .with_user(user)
            .create(
                [
                    {
                        "name": f"Load lead {user.login} {i}",
                        "type": "opportunity",
                        "partner_id": partner.id,
                        "email_from": partner.email,
                        "phone": partner.phone,
                        "team_id": team.id,
                        "user_id": user.id,
                        "stage_id": stages[0].id,
                        "expected_revenue": 1000 * rnd.randint(1, 50),
                        "tag_ids": [(6, 0, rnd.sample(tags.ids, 2))],
                    }
                    for i, partner in enumerate(mine)
                ]
            )
        )
        # sudo: the benchmark's set-up makes a key per salesperson (no expiry)
        key = Keys.with_user(user).sudo()._generate(None, "load benchmark", None)
        setup["clients"].append(
            {"login": user.login, "uid": user.id, "key": key, "lead_ids": leads.ids}
        )
    env.flush_all()
    # a living pipeline: a call planned on every lead by its salesperson (overdue, today or
    # later), as Odoo's activity views and the kanban's activity state read them
    env.cr.execute(
        """INSERT INTO mail_activity (res_model_id, res_model, res_id, res_name,
                                      activity_type_id, user_id, summary, date_deadline,
                                      automated, active, create_date, write_date,
                                      create_uid, write_uid)
           SELECT %(model)s, 'crm.lead', l.id, l.name, %(call)s, l.user_id, 'Call back',
                  (now() AT TIME ZONE 'UTC')::date + (l.id %% 14 - 3),
                  FALSE, TRUE, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC',
                  l.user_id, l.user_id
             FROM crm_lead l WHERE l.team_id = %(team)s""",
        {
            "model": env["ir.model"]._get_id("crm.lead"),
            "call": env.ref("mail.mail_activity_data_call").id,
            "team": team.id,
        },
    )
    return setup


def make_due(env, team, share=1.0, delay=0):
    """Part of the leads due for each watcher, as a database has them in a quarter of an
    hour: ``share`` times 4 % at risk of their stage deadline, 2 % past it, 4 % near their
    qualification deadline, 2 % untouched for longer than the stale days. The crons then
    run every minute, the first time in ``delay`` seconds."""

    def pick(percent):
        return max(1, round(100 / (percent * share)))

    cr = env.cr
    cr.execute(
        """UPDATE crm_lead SET sla_warning_at = now() AT TIME ZONE 'UTC' - interval '1 minute'
            WHERE team_id = %s AND sla_state = 'on_track' AND id %% %s = 0""",
        [team.id, pick(4)],
    )
    cr.execute(
        """UPDATE crm_lead SET sla_state = 'at_risk',
                  sla_deadline = now() AT TIME ZONE 'UTC' - interval '1 minute'
            WHERE team_id = %s AND sla_state = 'on_track' AND id %% %s = 1""",
        [team.id, pick(2)],
    )
    cr.execute(
        """UPDATE crm_lead SET qualification_check_at = now() AT TIME ZONE 'UTC'
            WHERE team_id = %s AND qualification_state = 'pending' AND id %% %s = 2""",
        [team.id, pick(4)],
    )
    # stale: moved 40 days ago, nothing done since (the stay, messages and activities too)
    cr.execute(
        """WITH stale AS (
               UPDATE crm_lead SET date_last_stage_update = now() AT TIME ZONE 'UTC'
                                       - interval '40 days'
                WHERE team_id = %s AND id %% %s = 3 AND active AND won_status = 'pending'
                  AND stale_date IS NULL
                  AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history h
                                   WHERE h.lead_id = crm_lead.id AND h.date_out IS NOT NULL)
            RETURNING id
           ), stays AS (
               UPDATE crm_lead_stage_history h SET date_in = now() AT TIME ZONE 'UTC'
                                                   - interval '40 days'
                 FROM stale WHERE h.lead_id = stale.id
           ), messages AS (
               UPDATE mail_message m SET date = now() AT TIME ZONE 'UTC' - interval '40 days'
                 FROM stale WHERE m.model = 'crm.lead' AND m.res_id = stale.id
           )
           UPDATE mail_activity a SET create_date = now() AT TIME ZONE 'UTC'
                                                    - interval '40 days',
                  date_deadline = (now() AT TIME ZONE 'UTC' - interval '39 days')::date
             FROM stale WHERE a.res_model = 'crm.lead' AND a.res_id = stale.id""",
        [team.id, pick(2)],
    )
    crons = env["ir.cron"].search(
        [
            (
                "code",
                "in",
                [
                    "model._cron_sla_watcher()",
                    "model._cron_qualification_watcher()",
                    "model._cron_stale_leads()",
                ],
            )
        ]
    )
    crons.write({"interval_number": 1, "interval_type": "minutes", "active": True})
    cr.execute(
        """UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' + make_interval(secs => %s)
            WHERE id = ANY(%s)""",
        [delay, crons.ids],
    )


def due(env):
    """What the watchers still have to do, by watcher (each 0 when all is done)."""
    now = env.cr.now()
    Lead = env["crm.lead"]
    return {
        "sla": len(env.execute_query(Lead._sla_due_sql(now))),
        "qualification": Lead.with_context(active_test=False).search_count(
            [("qualification_check_at", "<=", now)]
        ),
        "stale": sum(len(Lead._stale_execute(q)) for q in Lead._stale_due_sql(now).values()),
    }


def in_odoo(args, work):
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415 - needs an initialised Odoo
    from odoo.modules.registry import Registry  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(["-c", args.config])
    with Registry(args.database).cursor() as cr:
        return work(api.Environment(cr, SUPERUSER_ID, {}))


# ------------------------------------------------------------------------------------------
# drive (plain HTTP)
# ------------------------------------------------------------------------------------------


class Client(threading.Thread):
    """One salesperson: picks an operation of the mix on one of their leads, calls it,
    waits ``think`` seconds (exponential), until the end."""

    def __init__(self, run, conf, seed):
        super().__init__(daemon=True)
        self.run_ = run
        self.conf = conf
        self.rnd = random.Random(seed)
        self.stage = {lead_id: 0 for lead_id in conf["lead_ids"]}  # index in STAGES
        self.lost, self.won = set(), set()
        self.moves = Counter()  # successful moves of the leads that only moved
        self.not_only_moved = set()

    def sync(self):
        """The leads' state as the database has it (a run after another one)."""
        stages = {stage_id: i for i, stage_id in enumerate(self.run_.setup["stage_ids"])}
        _kind, rows = self.call(
            "crm.lead",
            "read",
            {
                "ids": list(self.stage),
                "fields": ["stage_id", "active", "probability"],
                "context": {"active_test": False},
            },
            record=False,
        )
        for row in rows or ():
            stage_id = row["stage_id"] and row["stage_id"][0]
            if stage_id in stages:
                self.stage[row["id"]] = stages[stage_id]
            elif stage_id:
                self.won.add(row["id"])
            if not row["active"] and not row["probability"]:
                self.lost.add(row["id"])

    def call(self, model, method, payload, record=True):
        setup = self.run_.setup
        body = json.dumps(payload)
        started = time.time()
        kind, name = "ok", None
        try:
            conn = http.client.HTTPConnection(self.run_.host, self.run_.port, timeout=120)
            conn.request(
                "POST",
                f"/json/2/{model}/{method}",
                body,
                {
                    "Authorization": f"bearer {self.conf['key']}",
                    "X-Odoo-Database": setup["db"],
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            data = response.read()
            conn.close()
            if response.status == 200:
                result = json.loads(data)
            else:
                try:
                    name = json.loads(data).get("name") or f"HTTP {response.status}"
                except ValueError:
                    name = f"HTTP {response.status}"
                kind = "refusal" if name in REFUSALS else "error"
                result = None
        except (OSError, http.client.HTTPException) as exc:
            kind, name, result = "transport", type(exc).__name__, None
        if record:
            self.run_.record(method, started, time.time(), kind, name)
        return kind, result

    def run(self):
        setup = self.run_.setup
        ops, weights = zip(*MIX.items(), strict=True)
        self.sync()
        while time.time() < self.run_.end:
            op = self.rnd.choices(ops, weights)[0]
            getattr(self, f"op_{op}")(setup)
            time.sleep(self.rnd.expovariate(1 / self.run_.think) if self.run_.think else 0)

    def pick(self, pool):
        pool = list(pool)
        return self.rnd.choice(pool) if pool else None

    def open_leads(self):
        return set(self.stage) - self.lost - self.won

    def op_read_pipeline(self, setup):
        self.call(
            "crm.lead",
            "search_read",
            {
                "domain": [["user_id", "=", self.conf["uid"]], ["type", "=", "opportunity"]],
                "fields": [
                    "name",
                    "partner_id",
                    "stage_id",
                    "expected_revenue",
                    "probability",
                    "tag_ids",
                    "activity_state",
                    "user_id",
                    "priority",
                    "color",
                ],
                "limit": 80,
                "order": "priority desc, id desc",
            },
        )

    def op_move(self, setup):
        lead_id = self.pick(self.open_leads())
        if not lead_id:
            return
        index = self.stage[lead_id]
        # forward mostly, one step back now and then
        new = index + 1 if index < 3 and self.rnd.random() < 0.8 else max(index - 1, 0)
        if new == index:
            return
        kind, _result = self.call(
            "crm.lead",
            "write",
            {"ids": [lead_id], "vals": {"stage_id": setup["stage_ids"][new]}},
        )
        if kind == "ok":
            self.stage[lead_id] = new
            self.moves[lead_id] += 1

    def op_win(self, setup):
        lead_id = self.pick(i for i in self.open_leads() if self.stage[i] >= 2)
        if lead_id and self.call("crm.lead", "action_set_won", {"ids": [lead_id]})[0] == "ok":
            self.won.add(lead_id)
            self.not_only_moved.add(lead_id)

    def op_lose(self, setup):
        lead_id = self.pick(self.open_leads())
        if not lead_id:
            return
        reason = self.rnd.choice(setup["lost_reason_ids"])
        kind, _r = self.call(
            "crm.lead", "action_set_lost", {"ids": [lead_id], "lost_reason_id": reason}
        )
        if kind == "ok":
            self.lost.add(lead_id)
            self.not_only_moved.add(lead_id)

    def op_return(self, setup):
        lead_id = self.pick(self.lost)
        if not lead_id:
            return
        if setup["addon"]:
            call = ("action_return_to_work", {"ids": [lead_id], "reason": "Called back"})
        else:
            call = ("action_restore", {"ids": [lead_id]})
        if self.call("crm.lead", *call)[0] == "ok":
            self.lost.discard(lead_id)

    def op_create(self, setup):
        n = self.rnd.randint(1, 10**9)
        kind, result = self.call(
            "crm.lead",
            "create",
            {
                "vals_list": [
                    {
                        "name": f"Inbound {n}",
                        "type": "opportunity",
                        "contact_name": f"Contact {n}",
                        "email_from": f"contact{n}@example.org",
                        "phone": f"+1 555 {n % 10**7:07d}",
                        "team_id": setup["team_id"],
                        "user_id": self.conf["uid"],
                        "stage_id": setup["stage_ids"][0],
                        "tag_ids": [[6, 0, self.rnd.sample(setup["tag_ids"], 2)]],
                    }
                ]
            },
        )
        if kind == "ok":
            self.stage[result[0]] = 0


class Run:
    def __init__(self, url, setup, seconds, think, warmup=0.0):
        host, _, port = url.split("//", 1)[1].partition(":")
        self.host, self.port = host, int(port or 80)
        self.setup, self.think = setup, think
        self.start = time.time() + warmup  # calls counted from here
        self.end = self.start + seconds
        self.lock = threading.Lock()
        self.calls = []  # (method, start, end, kind, name)

    def record(self, *call):
        with self.lock:
            self.calls.append(call)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def cpu_seconds(root_pids, dsn=None):
    """{kind: CPU seconds so far} of the process trees of ``root_pids`` (Odoo's master,
    PostgreSQL's postmaster): each live process's own time and that of the children it
    reaped. Kinds: ``http`` (Odoo's HTTP workers and their PostgreSQL backends), ``cron``
    (the cron workers and theirs), ``other`` (the rest: masters, background processes,
    exited workers and connections)."""
    import psutil  # noqa: PLC0415 - Odoo's requirement, only for this sub-command

    kinds = {}
    if dsn:
        import psycopg2  # noqa: PLC0415

        conn = psycopg2.connect(dsn)
        with conn.cursor() as cr:
            cr.execute("SELECT pid, application_name FROM pg_stat_activity")
            backends = dict(cr.fetchall())
        conn.close()
    else:
        backends = {}
    totals = Counter()
    procs = []
    for root in root_pids:
        try:
            procs.append(psutil.Process(root))
            procs += procs[-1].children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    for proc in procs:
        try:
            title = " ".join(proc.cmdline())
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        kind = "http" if "WorkerHTTP" in title else "cron" if "WorkerCron" in title else None
        kinds[proc.pid] = kind
        totals[proc.pid] = t.user + t.system + t.children_user + t.children_system
    result = Counter()
    for pid, seconds in totals.items():
        kind = kinds[pid]
        app = backends.get(pid) or ""
        if kind is None and app.startswith("odoo-") and app[5:].isdigit():
            kind = kinds.get(int(app[5:]))
        result[kind or "other"] += seconds
    return result


def summary(calls, since, until, seconds):
    """Figures of the calls started in [since, until)."""
    window = [c for c in calls if since <= c[1] < until]
    answered = [c for c in window if c[3] in ("ok", "refusal")]
    latencies = [(end - start) * 1000 for _m, start, end, _k, _n in answered]
    by_op = defaultdict(list)
    for method, start, end, _kind, _n in answered:
        by_op[method].append((end - start) * 1000)
    return {
        "seconds": seconds,
        "calls": len(window),
        "ok": sum(1 for c in window if c[3] == "ok"),
        "refusals": sum(1 for c in window if c[3] == "refusal"),
        "app_errors": sum(1 for c in window if c[3] == "error"),
        "transport_errors": sum(1 for c in window if c[3] == "transport"),
        "ops_per_s": len(answered) / seconds,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "by_op": {
            m: {"n": len(v), "p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)}
            for m, v in sorted(by_op.items())
        },
        "errors": dict(Counter(f"{k}: {n}" for _m, _s, _e, k, n in window if k != "ok")),
    }


def drive(args):
    with open(args.setup) as f:
        setup = json.load(f)
    roots = [int(pid) for pid in args.pids.split(",")] if args.pids else []
    run = Run(args.url, setup, args.seconds, args.think, args.warmup)
    clients = [Client(run, conf, seed=i) for i, conf in enumerate(setup["clients"])]
    for client in clients:
        client.start()
    faults = Faults(args, run) if args.faults else None
    if faults:
        faults.start()
    time.sleep(max(0.0, run.start - time.time()))
    cpu_start = cpu_seconds(roots, args.dsn)
    time.sleep(max(0.0, run.end - time.time()))
    cpu_end = cpu_seconds(roots, args.dsn)
    for client in clients:
        client.join()
    if faults:
        faults.join()
    result = summary(run.calls, run.start, run.end, args.seconds)
    cpu = {kind: cpu_end[kind] - cpu_start[kind] for kind in ("http", "cron", "other")}
    result["cpu_seconds"] = cpu
    answered = result["ok"] + result["refusals"]
    result["cpu_ms_per_op"] = 1000 * sum(cpu.values()) / answered if answered else None
    result["cpu_http_ms_per_op"] = 1000 * cpu["http"] / answered if answered else None
    result["error_calls"] = [
        {"method": m, "start": s, "end": e, "kind": k, "name": n}
        for m, s, e, k, n in run.calls
        if k in ("error", "transport")
    ]
    if faults:
        result["faults"] = faults.report(run.calls)
    moves = expected_moves(clients, args.previous_moves)
    result["expected_moves"] = moves
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(
        f"{result['calls']} calls in {args.seconds:.0f} s: {result['ops_per_s']:.1f}/s, "
        f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, "
        f"p99 {result['p99_ms']:.0f} ms, CPU {result['cpu_ms_per_op'] or 0:.1f} ms/op, "
        f"refusals {result['refusals']}, errors {result['errors']}"
    )


def expected_moves(clients, previous=None):
    """{lead id: successful moves} of the leads that only ever moved (never won, lost or
    returned), counted over this run and the run of ``previous`` (its result file)."""
    before = None
    if previous:
        with open(previous) as f:
            before = json.load(f)["expected_moves"]
    moves = dict(before or {})
    for client in clients:
        initial = set(client.conf["lead_ids"])
        for lead_id in client.stage:
            key = str(lead_id)
            if lead_id in client.not_only_moved or (
                before is not None and lead_id in initial and key not in before
            ):
                moves.pop(key, None)
            else:
                moves[key] = moves.get(key, 0) + client.moves[lead_id]
    return moves


class Faults(threading.Thread):
    """Faults injected while the clients run: ``kill -9`` of an HTTP worker serving a
    request, of the cron worker in the middle of a watcher batch, a PostgreSQL restart.
    Each fault's time span is kept: an error is expected only for a call in flight then."""

    def __init__(self, args, run):
        super().__init__(daemon=True)
        self.args, self.run_ = args, run
        self.spans = []  # (fault, start, end, detail)

    def backends(self):
        import psycopg2  # noqa: PLC0415

        with psycopg2.connect(self.args.dsn) as conn, conn.cursor() as cr:
            cr.execute(
                """SELECT application_name, state, query,
                          extract(epoch FROM now() - xact_start)
                     FROM pg_stat_activity
                    WHERE datname = %s AND application_name LIKE 'odoo-%%'
                      AND xact_start IS NOT NULL""",
                [self.run_.setup["db"]],
            )
            rows = cr.fetchall()
        conn.close()
        return [(int(app.split("-", 1)[1]), state, query, age) for app, state, query, age in rows]

    def workers(self, kind):
        import psutil  # noqa: PLC0415

        master = psutil.Process(int(self.args.pids.split(",")[0]))
        return {p.pid for p in master.children() if kind in " ".join(p.cmdline())}

    def kill_when(self, fault, kind, wanted, timeout=60):
        import os  # noqa: PLC0415
        import signal  # noqa: PLC0415

        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = self.workers(kind)
            for pid, state, query, age in self.backends():
                if pid in pids and wanted(state, query, age):
                    os.kill(pid, signal.SIGKILL)
                    now = time.time()
                    self.spans.append((fault, now, now, f"pid {pid}: {query[:80]}"))
                    return
            time.sleep(0.01)
        self.spans.append((fault, None, None, "not injected: no such moment"))

    def run(self):
        import subprocess  # noqa: PLC0415

        at = self.run_.start
        time.sleep(max(0.0, at + self.args.seconds * 0.2 - time.time()))
        self.kill_when(
            "kill -9 of an HTTP worker serving a request",
            "WorkerHTTP",
            lambda state, query, age: state == "active" or age > 0.02,
        )
        time.sleep(max(0.0, at + self.args.seconds * 0.35 - time.time()))
        self.kill_when(
            "kill -9 of the cron worker in a watcher batch",
            "WorkerCron",
            lambda state, query, age: age > 0.3 and "crm_lead" in query,
            timeout=self.args.seconds * 0.4,
        )
        time.sleep(max(0.0, at + self.args.seconds * 0.8 - time.time()))
        begin = time.time()
        subprocess.run(self.args.pg_restart, shell=True, check=True)
        self.spans.append(("PostgreSQL restart", begin, time.time(), self.args.pg_restart))

    def report(self, calls):
        """Per fault: errors of calls in flight during it; errors of no fault at all."""
        out = []
        explained = set()
        for fault, begin, end, detail in self.spans:
            errors = []
            if begin is not None:
                for call in calls:
                    _m, start, stop, kind, _n = call
                    if kind in ("error", "transport") and start <= end + 0.05 and stop >= begin:
                        errors.append(call)
                        explained.add(call)
            out.append(
                {
                    "fault": fault,
                    "detail": detail,
                    "seconds": (end - begin) if begin else None,
                    "errors_in_flight": dict(Counter(f"{c[3]}: {c[4]}" for c in errors)),
                }
            )
        others = [c for c in calls if c[3] in ("error", "transport") and c not in explained]
        out.append(
            {
                "fault": "none (errors outside every fault)",
                "errors_in_flight": dict(Counter(f"{c[3]}: {c[4]} ({c[0]})" for c in others)),
            }
        )
        return out


def log_figures(odoo_log, pg_log):
    """Serialization failures Odoo retried (by error), deadlocks, lock waits of more than
    PostgreSQL's deadlock_timeout (the longest, with its statement)."""
    retries = Counter()
    with open(odoo_log, errors="replace") as f:
        for line in f:
            match = re.search(
                r"INFO \S+ odoo\.service\.model: (\S+), (\d+ tries left|maximum)", line
            )
            if match:
                retries[match.group(1) + (" (gave up)" if match.group(2) == "maximum" else "")] += 1
    waits, deadlocks, last = [], 0, None
    with open(pg_log, errors="replace") as f:
        for line in f:
            match = re.search(r"acquired (\w+) on (.+?) after ([\d.]+) ms", line)
            if match:
                last = [float(match.group(3)), f"{match.group(1)} on {match.group(2)}", ""]
                waits.append(last)
            elif "deadlock detected" in line:
                deadlocks += 1
            elif "STATEMENT:" in line and last is not None and not last[2]:
                last[2] = line.split("STATEMENT:", 1)[1].strip()[:160]
    waits.sort(reverse=True)
    return {
        "retries": dict(retries),
        "deadlocks": deadlocks,
        "lock_waits_over_100ms": len(waits),
        "longest_waits": waits[:3],
    }


def report(out_dir):
    runs = {}
    for label in ("stock", "addon", "faults"):
        path = os.path.join(out_dir, f"{label}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            runs[label] = json.load(f)
        runs[label]["logs"] = log_figures(
            os.path.join(out_dir, f"{label}.odoo.log"), os.path.join(out_dir, f"{label}.pg.log")
        )
        inv = os.path.join(out_dir, f"{label}.invariants.json")
        if os.path.exists(inv):
            with open(inv) as f:
                text = f.read()
            try:
                runs[label]["invariants"] = json.loads(text)
            except ValueError:
                runs[label]["invariants"] = text[-400:]
    rows = [
        ("operations/s", "ops_per_s", "{:.1f}"),
        ("p50 latency (ms)", "p50_ms", "{:.0f}"),
        ("p95 latency (ms)", "p95_ms", "{:.0f}"),
        ("p99 latency (ms)", "p99_ms", "{:.0f}"),
        ("CPU per operation (ms)", "cpu_ms_per_op", "{:.1f}"),
        ("  of it HTTP workers (ms)", "cpu_http_ms_per_op", "{:.1f}"),
        ("refusals of the regulation", "refusals", "{}"),
        ("application errors", "app_errors", "{}"),
        ("transport errors", "transport_errors", "{}"),
    ]
    labels = list(runs)
    print(f"{'':28}" + "".join(f"{label:>12}" for label in labels))
    for title, key, fmt in rows:
        cells = [runs[label].get(key) for label in labels]
        print(
            f"{title:28}" + "".join(f"{fmt.format(c) if c is not None else '-':>12}" for c in cells)
        )
    if "stock" in runs and "addon" in runs:
        for title, key in (
            ("CPU per operation", "cpu_ms_per_op"),
            ("CPU per operation, HTTP workers", "cpu_http_ms_per_op"),
            ("p95 latency", "p95_ms"),
        ):
            stock, addon = runs["stock"][key], runs["addon"][key]
            if stock:
                print(f"{title}: addon / stock = {addon / stock:.2f}x")
    for label, run in runs.items():
        logs = run["logs"]
        print(f"\n[{label}] errors: {run['errors'] or 'none'}")
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in run["cpu_seconds"].items())
        print(f"[{label}] CPU seconds in the window: {cpu}")
        print(
            f"[{label}] serialization failures retried by Odoo: {logs['retries'] or 'none'}; "
            f"deadlocks: {logs['deadlocks']}; lock waits over 100 ms: "
            f"{logs['lock_waits_over_100ms']}"
        )
        for ms, what, statement in logs["longest_waits"]:
            print(f"[{label}]   waited {ms:.0f} ms for {what}: {statement}")
        for fault in run.get("faults", []):
            print(
                f"[{label}] fault: {fault['fault']} ({fault.get('detail', '')[:60]}): "
                f"errors of calls in flight {fault['errors_in_flight'] or 'none'}"
            )
        inv = run.get("invariants")
        if isinstance(inv, dict):
            failed = [i["name"] for i in inv["invariants"] if not i["ok"]]
            verdict = "all hold" if not failed else "VIOLATED: " + ", ".join(failed)
            print(f"[{label}] invariants ({len(inv['invariants'])}, {inv['ms']} ms): {verdict}")
        elif inv:
            print(f"[{label}] invariants: {inv}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("-d", "--database", required=True)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--leads", type=int, default=20, help="leads per client")
    p.add_argument("--out", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--url", required=True)
    d.add_argument("--setup", required=True)
    d.add_argument("--seconds", type=float, default=60)
    d.add_argument("--think", type=float, default=2.0, help="mean seconds between calls")
    d.add_argument("--warmup", type=float, default=10.0, help="seconds not counted first")
    d.add_argument("--pids", help="Odoo's master and PostgreSQL's postmaster (CPU, faults)")
    d.add_argument("--faults", action="store_true")
    d.add_argument("--previous-moves", help="result file of the run before (expected moves)")
    d.add_argument("--dsn", help="PostgreSQL (faults: which worker is in a batch)")
    d.add_argument("--pg-restart", help="shell command restarting PostgreSQL (faults)")
    d.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("dir")
    m = sub.add_parser("make-due")
    m.add_argument("-c", "--config", required=True)
    m.add_argument("-d", "--database", required=True)
    m.add_argument("--share", type=float, default=1.0, help="times the usual due leads")
    m.add_argument("--delay", type=float, default=0, help="seconds to the crons' first run")
    w = sub.add_parser("due")
    w.add_argument("-c", "--config", required=True)
    w.add_argument("-d", "--database", required=True)
    args = parser.parse_args()
    if args.command == "prepare":
        setup = in_odoo(args, lambda env: prepare(env, args.clients, args.leads))
        with open(args.out, "w") as f:
            json.dump(setup, f)
        print(f"{len(setup['clients'])} clients, {args.leads} leads each")
    elif args.command == "drive":
        drive(args)
    elif args.command == "report":
        report(args.dir)
    elif args.command == "make-due":
        in_odoo(
            args, lambda env: make_due(env, env["crm.team"].search([("name", "=", "Load Team")]))
        )
    else:
        print(json.dumps(in_odoo(args, due)))


if __name__ == "__main__":
    main()
