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
    # Odoo's lead enrichment calls its IAP service, which this machine cannot reach: its
    # cron would retry the new leads all along, in both databases (a fifth of the CPU)
    enrich = env.ref("crm_iap_enrich.ir_cron_lead_enrichment", raise_if_not_found=False)
    if enrich:
        enrich.active = False
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


def cpu_seconds(odoo_pid, postmaster_pid):
    """{kind: CPU seconds so far}: each live process's own time and that of the children it
    reaped (exited workers, closed connections), by kind: ``http`` (Odoo's HTTP workers),
    ``cron`` (its cron workers), ``odoo`` (its master and gevent process), ``postgres``
    (every PostgreSQL process: Odoo's workers all connect as their master, so that their
    backends cannot be told apart)."""
    import psutil  # noqa: PLC0415 - Odoo's requirement, only for this sub-command

    result = Counter()
    for root, default in ((odoo_pid, "odoo"), (postmaster_pid, "postgres")):
        try:
            procs = [psutil.Process(root)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                title = " ".join(proc.cmdline())
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            kind = "http" if "WorkerHTTP" in title else "cron" if "WorkerCron" in title else default
            result[kind] += t.user + t.system + t.children_user + t.children_system
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
        "latencies_ms": [round(latency, 1) for latency in latencies],
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
    cpu_start = cpu_seconds(*roots)
    time.sleep(max(0.0, run.end - time.time()))
    cpu_end = cpu_seconds(*roots)
    for client in clients:
        client.join()
    if faults:
        faults.join()
    result = summary(run.calls, run.start, run.end, args.seconds)
    kinds = ("http", "cron", "odoo", "postgres")
    cpu = {kind: cpu_end[kind] - cpu_start[kind] for kind in kinds}
    result["cpu_seconds"] = cpu
    answered = result["ok"] + result["refusals"]
    # (none after a PostgreSQL restart: the new postmaster's processes are not the old one's)
    measured = answered and min(cpu.values()) >= 0
    per_op = (lambda seconds: 1000 * seconds / answered) if measured else (lambda seconds: None)
    result["cpu_ms_per_op"] = per_op(sum(cpu.values()))
    result["cpu_http_ms_per_op"] = per_op(cpu["http"])
    result["cpu_pg_ms_per_op"] = per_op(cpu["postgres"])
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

    def queries(self):
        """The statements of the database's open transactions."""
        import psycopg2  # noqa: PLC0415

        conn = psycopg2.connect(self.args.dsn)
        with conn.cursor() as cr:
            cr.execute(
                """SELECT query FROM pg_stat_activity
                    WHERE datname = current_database() AND xact_start IS NOT NULL
                      AND pid <> pg_backend_pid()"""
            )
            rows = [query for (query,) in cr.fetchall()]
        conn.close()
        return rows

    def workers(self, kind):
        import psutil  # noqa: PLC0415

        master = psutil.Process(int(self.args.pids.split(",")[0]))
        return [p for p in master.children(recursive=True) if kind in " ".join(p.cmdline())]

    def kill(self, fault, procs, detail):
        import os  # noqa: PLC0415
        import signal  # noqa: PLC0415

        for proc in procs:
            os.kill(proc.pid, signal.SIGKILL)
        now = time.time()
        pids = ", ".join(str(proc.pid) for proc in procs)
        self.spans.append((fault, now, now, f"pid {pids}: {detail}"))

    def kill_busy_http_worker(self):
        """The HTTP worker using the most CPU over 50 ms: it is serving a request."""
        workers = self.workers("WorkerHTTP")
        for proc in workers:
            proc.cpu_percent(None)
        time.sleep(0.05)
        busy = max(workers, key=lambda proc: proc.cpu_percent(None))
        self.kill("kill -9 of an HTTP worker serving a request", [busy], "the busiest worker")

    def kill_cron_in_batch(self, timeout):
        """The cron workers, once a watcher batch holds its leads locked (its lock statement
        is the transaction's last: it is processing them)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            # the batch's lock (Odoo's try_lock_for_update): SELECT ... FROM "crm_lead" ...
            # FOR [NO KEY] UPDATE SKIP LOCKED, only the watchers lock leads so
            batch = [
                q
                for q in self.queries()
                if q.lstrip().upper().startswith("SELECT")
                and 'FROM "crm_lead"' in q
                and "UPDATE SKIP LOCKED" in q
            ]
            if batch:
                time.sleep(0.1)  # into the batch's processing
                self.kill(
                    "kill -9 of the cron workers in a watcher batch",
                    self.workers("WorkerCron"),
                    " ".join(batch[0].split())[:70],
                )
                return
            time.sleep(0.005)
        self.spans.append(
            (
                "kill -9 of the cron workers in a watcher batch",
                None,
                None,
                "not injected: no watcher batch seen",
            )
        )

    def run(self):
        import subprocess  # noqa: PLC0415

        at = self.run_.start
        time.sleep(max(0.0, at + self.args.seconds * 0.2 - time.time()))
        self.kill_busy_http_worker()
        self.kill_cron_in_batch(timeout=self.args.seconds * 0.5)
        time.sleep(max(0.0, at + self.args.seconds * 0.8 - time.time()))
        begin = time.time()
        subprocess.run(self.args.pg_restart, shell=True, check=True)  # restarts in 0.3-1 s
        self.spans.append(("PostgreSQL restart", begin, time.time(), "pg_ctl restart -m fast"))

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


def load_runs(out_dir):
    """{label: run result with its logs' figures and invariants} of ``out_dir``."""
    runs = {}
    for name in sorted(os.listdir(out_dir)):
        label, ext = name[: -len(".json")], name[-len(".json") :]
        if (
            ext != ".json"
            or "." in label
            or label.split("_")[0] not in ("stock", "addon", "faults")
        ):
            continue
        with open(os.path.join(out_dir, name)) as f:
            run = json.load(f)
        if "calls" not in run:
            continue
        run["logs"] = log_figures(
            os.path.join(out_dir, f"{label}.odoo.log"), os.path.join(out_dir, f"{label}.pg.log")
        )
        inv = os.path.join(out_dir, f"{label}.invariants.json")
        if os.path.exists(inv):
            with open(inv) as f:
                text = f.read()
            try:
                run["invariants"] = json.loads(text)
            except ValueError:
                run["invariants"] = text[-400:]
        run["retries"] = sum(run["logs"]["retries"].values())
        runs[label] = run
    return runs


def variants_of(runs):
    """Each variant over its rounds: CPU over all operations, percentiles over all calls."""
    variants = {}
    for variant in ("stock", "addon"):
        rounds = [run for label, run in runs.items() if label.split("_")[0] == variant]
        if not rounds:
            continue
        answered = sum(run["ok"] + run["refusals"] for run in rounds)
        latencies = [ms for run in rounds for ms in run["latencies_ms"]]
        cpu = Counter()
        for run in rounds:
            cpu.update(run["cpu_seconds"])
        variants[f"{variant} (all)"] = {
            "ops_per_s": answered / sum(run["seconds"] for run in rounds),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99),
            "cpu_ms_per_op": 1000 * sum(cpu.values()) / answered,
            "cpu_http_ms_per_op": 1000 * cpu["http"] / answered,
            "cpu_pg_ms_per_op": 1000 * cpu["postgres"] / answered,
            **{
                key: sum(run[key] for run in rounds)
                for key in ("refusals", "app_errors", "transport_errors")
            },
            "retries": sum(run["retries"] for run in rounds),
        }
    return variants


def report(out_dir):
    """The runs of ``out_dir``: each round (``stock_1``, ``addon_1``, ...), each variant
    over its rounds, the ratios, then each run's errors, retries, lock waits, faults and
    invariants."""
    runs = load_runs(out_dir)
    variants = variants_of(runs)
    rows = [
        ("operations/s", "ops_per_s", "{:.1f}"),
        ("p50 latency (ms)", "p50_ms", "{:.0f}"),
        ("p95 latency (ms)", "p95_ms", "{:.0f}"),
        ("p99 latency (ms)", "p99_ms", "{:.0f}"),
        ("CPU per operation (ms)", "cpu_ms_per_op", "{:.1f}"),
        ("  Odoo's HTTP workers (ms)", "cpu_http_ms_per_op", "{:.1f}"),
        ("  PostgreSQL (ms)", "cpu_pg_ms_per_op", "{:.1f}"),
        ("refusals of the regulation", "refusals", "{}"),
        ("application errors", "app_errors", "{}"),
        ("transport errors", "transport_errors", "{}"),
    ]
    table = {**runs, **variants}
    rows.append(("serialization retries", "retries", "{}"))
    labels = list(table)
    print(f"{'':28}" + "".join(f"{label:>13}" for label in labels))
    for title, key, fmt in rows:
        cells = [table[label].get(key) for label in labels]
        print(
            f"{title:28}" + "".join(f"{fmt.format(c) if c is not None else '-':>13}" for c in cells)
        )
    if "stock (all)" in variants and "addon (all)" in variants:
        stock, addon = variants["stock (all)"], variants["addon (all)"]
        for title, key in (
            ("CPU per operation", "cpu_ms_per_op"),
            ("CPU per operation, Odoo's HTTP workers", "cpu_http_ms_per_op"),
            ("CPU per operation, PostgreSQL", "cpu_pg_ms_per_op"),
            ("p50 latency", "p50_ms"),
            ("p95 latency", "p95_ms"),
        ):
            print(f"{title}: addon / stock = {addon[key] / stock[key]:.2f}x")
        for label in runs:
            if label.startswith("addon_"):
                pair = runs.get("stock_" + label.split("_", 1)[1])
                if pair:
                    print(
                        f"round {label.split('_', 1)[1]}: CPU "
                        f"{runs[label]['cpu_ms_per_op'] / pair['cpu_ms_per_op']:.2f}x, p95 "
                        f"{runs[label]['p95_ms'] / pair['p95_ms']:.2f}x"
                    )
    print_details(runs)


def print_details(runs):
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
                f"[{label}] fault: {fault['fault']} ({fault.get('detail', '')[:70]}): "
                f"errors of calls in flight {fault['errors_in_flight'] or 'none'}"
            )
        if run.get("due") is not None:
            print(f"[{label}] left to the watchers after the run: {run['due']}")
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
