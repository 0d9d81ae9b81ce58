#!/usr/bin/env bash
# Runs the role-matrix benchmark: set-up (cached), one fresh database (crm + crm_regulation,
# no demo data), then benchmarks/bench_roles.py (dropped at the end; KEEP_DBS=1 keeps it).
#   benchmarks/run_roles.sh                     # 1,000,000 leads, 200 salespeople
#   ROLE_LEADS=20000 benchmarks/run_roles.sh    # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

CONF="$ODOO_DIR/bench_roles.conf"
DB=crm_regulation_bench_roles

setup_venv
trap pg_stop EXIT
pg_start
write_odoo_conf "$CONF" "log_level = warn
workers = 0
max_cron_threads = 0"

# Fresh database each run: the crons change the leads they process.
drop_db "$DB"
log "creating $DB (crm_regulation, no demo data)"
odoo_bin -c "$CONF" -d "$DB" -i crm_regulation --stop-after-init --no-http \
    || die "could not create $DB."

cd "$ROOT/benchmarks"
"$VENV/bin/python" -u bench_roles.py -c "$CONF" -d "$DB" \
    --leads "${ROLE_LEADS:-1000000}" "$@" | tee "$ROOT/.odoo/bench_roles.log"
if [ "${KEEP_DBS:-0}" != 1 ]; then
    drop_db "$DB"
fi
