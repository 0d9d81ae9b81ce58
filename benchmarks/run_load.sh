#!/usr/bin/env bash
# The load benchmark: Odoo's multi-worker server (--workers=4 --max-cron-threads=2) under 50
# JSON-2 clients, on a database without the addon (crm) and one with it, in one run; then
# the faults (kill -9 of a worker and of the cron worker in a watcher batch, a PostgreSQL
# restart) on the addon's database. After each run the invariants
# (benchmarks/invariants.py) are checked. Results: .odoo/load/, summary on stdout.
#   benchmarks/run_load.sh          # 50 clients x 20 leads, 2 rounds of 120 s per database
#   LOAD_SECONDS=60 LOAD_CLIENTS=20 benchmarks/run_load.sh
# Environment: LOAD_SECONDS (120), LOAD_CLIENTS (50), LOAD_LEADS (20 per client),
# LOAD_THINK (mean seconds between a client's calls, 2), LOAD_FAULTS (1: the fault run),
# LOAD_ROUNDS (2: stock, addon, stock, addon), LOAD_WARMUP (15 s not counted),
# LOAD_PORT (18169), KEEP_DBS (1 keeps the databases).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SECONDS_RUN="${LOAD_SECONDS:-120}"
CLIENTS="${LOAD_CLIENTS:-50}"
LEADS="${LOAD_LEADS:-20}"
THINK="${LOAD_THINK:-2}"
PORT="${LOAD_PORT:-18169}"
WARMUP="${LOAD_WARMUP:-15}"
ROUNDS="${LOAD_ROUNDS:-2}"
OUT="$ODOO_DIR/load"
CONF="$ODOO_DIR/load.conf"
BENCH="$ROOT/benchmarks/bench_load.py"
server_pid=

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$server_pid" 2>/dev/null || true
    pkill -KILL -f "odoo-bin.*--http-port=$PORT" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    # its workers leave when they see their master gone: the port is free again
    for _ in $(seq 1 60); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/web/health" || break
        sleep 0.5
    done
}
cleanup() {
    local rc=$?
    stop_server
    if [ -n "${PG_BIN:-}" ]; then
        "$PG_BIN/psql" -X -q -d postgres -c "ALTER SYSTEM RESET log_lock_waits" \
            -c "ALTER SYSTEM RESET deadlock_timeout" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
        pg_stop
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_venv
pg_start
rm -rf "$OUT" && mkdir -p "$OUT"
# every lock wait longer than 100 ms in PostgreSQL's log, with the waiting statement
"$PG_BIN/psql" -X -q -d postgres -c "ALTER SYSTEM SET log_lock_waits = on" \
    -c "ALTER SYSTEM SET deadlock_timeout = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
PG_LOG="$PG_DIR/postgresql.log"
PG_RESTART="$(declare -f as_pg_owner); PG_OWNER='${PG_OWNER:-}' as_pg_owner '$PG_BIN/pg_ctl' \
-D '$PG_DIR/data' -l '$PG_LOG' -m fast -w -t 60 restart >/dev/null"
write_odoo_conf "$CONF" "log_level = info
limit_time_real = 300
limit_time_cpu = 120"
DSN="host=$PG_SOCKET_DIR port=$PG_PORT user=$PGUSER dbname=postgres"

run_server() {  # $1 database, $2 log file
    # (odoo-bin itself in the background: $! is Odoo's master, whose process tree is measured)
    "$VENV/bin/python" "$(odoo_tree)/odoo-bin" -c "$CONF" -d "$1" --db-filter="^$1\$" \
        --workers=4 --max-cron-threads=2 --http-interface=127.0.0.1 --http-port="$PORT" \
        --gevent-port=$((PORT + 1)) --logfile="$2" &
    server_pid=$!
    for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$PORT/web/health" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    die "the Odoo server on $1 did not answer." "See $2."
}

measure() {  # $1 label, $2 database, extra drive arguments...
    local label=$1 db=$2
    shift 2
    local pg_offset
    pg_offset=$(stat -c %s "$PG_LOG")
    : >"$OUT/$label.odoo.log"
    run_server "$db" "$OUT/$label.odoo.log"
    "$VENV/bin/python" "$BENCH" drive --url "http://127.0.0.1:$PORT" --setup "$OUT/$db.json" \
        --seconds "$SECONDS_RUN" --warmup "$WARMUP" --think "$THINK" --out "$OUT/$label.json" \
        --pids "$server_pid,$(head -n 1 "$PG_DIR/data/postmaster.pid")" \
        --dsn "${DSN/dbname=postgres/dbname=$db}" "$@" || die "the clients failed ($label)."
    # the watchers finish what is due (their crons run every minute), then the server stops
    if [ "$db" = crm_regulation_load_addon ]; then
        for _ in $(seq 1 48); do
            due=$(odoo_bin_due "$db")
            [ "$due" = '{"sla": 0, "qualification": 0, "stale": 0}' ] && break
            sleep 5
        done
        echo "$label: left to the watchers after the run: $due"
        "$VENV/bin/python" -c "import json, sys; r = json.load(open(sys.argv[1])); \
r['due'] = json.loads(sys.argv[2]); json.dump(r, open(sys.argv[1], 'w'))" "$OUT/$label.json" "$due"
    fi
    stop_server
    tail -c +"$((pg_offset + 1))" "$PG_LOG" >"$OUT/$label.pg.log"
    "$VENV/bin/python" -c "import json, sys; json.dump(json.load(open(sys.argv[1]))['expected_moves'], \
open(sys.argv[2], 'w'))" "$OUT/$label.json" "$OUT/$label.moves.json"
    if "$VENV/bin/python" "$ROOT/benchmarks/invariants.py" --dsn "${DSN/dbname=postgres/dbname=$db}" \
        --expected-moves "$OUT/$label.moves.json" --json >"$OUT/$label.invariants.json"; then
        echo "$label: invariants hold"
    else
        echo "$label: INVARIANTS VIOLATED (see $OUT/$label.invariants.json)"
    fi
}

odoo_bin_due() {
    "$VENV/bin/python" "$BENCH" due -c "$CONF" -d "$1" 2>/dev/null | tail -n 1
}

for variant in stock addon; do
    db="crm_regulation_load_$variant"
    drop_db "$db"
    module=crm
    [ $variant = addon ] && module=crm_regulation
    log "creating $db ($module, no demo data) and its $CLIENTS salespeople x $LEADS leads"
    odoo_bin -c "$CONF" -d "$db" -i "$module" --stop-after-init --no-http --log-level=warn \
        || die "could not create $db."
    "$VENV/bin/python" "$BENCH" prepare -c "$CONF" -d "$db" --clients "$CLIENTS" \
        --leads "$LEADS" --out "$OUT/$db.json" || die "could not prepare $db."
    "$PG_BIN/psql" -X -q -d "$db" -c "VACUUM ANALYZE" >/dev/null
done

log "load: $CLIENTS clients, ${SECONDS_RUN} s per database and round, $ROUNDS rounds, a call every ${THINK} s per client"
previous=()
for round in $(seq 1 "$ROUNDS"); do
    measure "stock_$round" crm_regulation_load_stock
    # part of the leads due for the watchers, whose crons first run in the measured window
    "$VENV/bin/python" "$BENCH" make-due -c "$CONF" -d crm_regulation_load_addon --delay $((WARMUP + 20))
    measure "addon_$round" crm_regulation_load_addon "${previous[@]}"
    previous=(--previous-moves "$OUT/addon_$round.json")
done
if [ "${LOAD_FAULTS:-1}" = 1 ]; then
    log "faults on the addon's database"
    # ten times the usual share due (many watcher batches, one to be killed in its middle),
    # the crons' first run about 30 s into the measured window
    "$VENV/bin/python" "$BENCH" make-due -c "$CONF" -d crm_regulation_load_addon --share 10 \
        --delay $((WARMUP + 35))
    measure faults crm_regulation_load_addon --faults --pg-restart "$PG_RESTART" "${previous[@]}"
fi
"$VENV/bin/python" "$BENCH" report "$OUT" | tee "$OUT/report.txt"
if [ "${KEEP_DBS:-0}" != 1 ]; then
    drop_db crm_regulation_load_stock
    drop_db crm_regulation_load_addon
fi
