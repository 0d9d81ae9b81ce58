#!/usr/bin/env bash
# Runs the stage SLA benchmark: set-up (cached), one fresh database (crm + crm_regulation, no
# demo data), then benchmarks/bench_sla.py. The SLA watcher commits its batches: the
# database is the benchmark's own, dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_sla.sh                          # 1,000,000 open leads
#   SLA_LEADS=20000 benchmarks/run_sla.sh --stage-leads 5000 --due 500   # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

CONF="$ODOO_DIR/bench_sla.conf"
DB=crm_regulation_bench_sla

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
"$VENV/bin/python" -u bench_sla.py -c "$CONF" -d "$DB" \
    --leads "${SLA_LEADS:-1000000}" "$@" | tee "$ROOT/.odoo/bench_sla.log"
if [ "${KEEP_DBS:-0}" != 1 ]; then
    drop_db "$DB"
fi
