# Shared by the one-database benchmarks (run_watchers.sh, run_sla.sh, run_roles.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

# run_fresh_bench NAME LEADS [ARGS...]: set-up (cached), a fresh database
# crm_regulation_bench_NAME (crm + crm_regulation, no demo data), then
# benchmarks/bench_NAME.py --leads LEADS ARGS, its output also in .odoo/bench_NAME.log. The
# benchmarks commit (crons, generated data): the database is dropped at the end (KEEP_DBS=1
# keeps it).
run_fresh_bench() {
    local name=$1 leads=$2
    shift 2
    local conf="$ODOO_DIR/bench_$name.conf" db="crm_regulation_bench_$name"
    setup_venv
    trap pg_stop EXIT
    pg_start
    write_odoo_conf "$conf" "log_level = warn
workers = 0
max_cron_threads = 0"
    drop_db "$db"
    log "creating $db (crm_regulation, no demo data)"
    odoo_bin -c "$conf" -d "$db" -i crm_regulation --stop-after-init --no-http \
        || die "could not create $db."
    (cd "$ROOT/benchmarks" && "$VENV/bin/python" -u "bench_$name.py" -c "$conf" -d "$db" \
        --leads "$leads" "$@") | tee "$ROOT/.odoo/bench_$name.log"
    if [ "${KEEP_DBS:-0}" != 1 ]; then
        drop_db "$db"
    fi
}
