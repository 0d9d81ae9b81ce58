#!/usr/bin/env bash
# Runs the install benchmark: set-up (cached), a database with crm only (no demo data),
# then benchmarks/bench_install.py: crm_regulation installed on a copy without leads and on
# a copy with INSTALL_LEADS leads (1,000,000 by default), the difference printed. Its
# output is also in .odoo/bench_install.log. The crm-only database and the template with
# leads are dropped at the end; KEEP_DBS=1 keeps them and the next run reuses them
# (generating a million leads takes minutes).
#   benchmarks/run_install.sh                          # 1,000,000 leads
#   INSTALL_LEADS=100000 benchmarks/run_install.sh     # a quick try
#   KEEP_DBS=1 benchmarks/run_install.sh --rounds 3    # median of 3 installs per side
# With pg_stat_statements in the server's shared_preload_libraries, the slowest
# statements of the big install are listed too.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LEADS="${INSTALL_LEADS:-1000000}"
CONF="$ODOO_DIR/bench_install.conf"
BASE_DB=crm_regulation_bench_install
TEMPLATE_DB="${BASE_DB}_${LEADS}"

setup_venv
trap pg_stop EXIT
pg_start
write_odoo_conf "$CONF" "log_level = warn
workers = 0
max_cron_threads = 0"
reuse=()
if [ "${KEEP_DBS:-0}" = 1 ] && "$PG_BIN/psql" -d postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = '$BASE_DB'" | grep -q 1; then
    log "reusing $BASE_DB (and $TEMPLATE_DB if present)"
    reuse=(--reuse-template)
else
    drop_db "$TEMPLATE_DB"
    drop_db "$BASE_DB"
    log "creating $BASE_DB (crm, no demo data)"
    odoo_bin -c "$CONF" -d "$BASE_DB" -i crm --stop-after-init --no-http \
        || die "could not create $BASE_DB."
fi
status=0
(cd "$ROOT/benchmarks" && "$VENV/bin/python" -u bench_install.py -c "$CONF" \
    --base-db "$BASE_DB" --template-db "$TEMPLATE_DB" --leads "$LEADS" "${reuse[@]}" "$@") \
    | tee "$ROOT/.odoo/bench_install.log" || status=$?
if [ "${KEEP_DBS:-0}" != 1 ]; then
    drop_db "$TEMPLATE_DB"
    drop_db "$BASE_DB"
fi
exit "$status"
