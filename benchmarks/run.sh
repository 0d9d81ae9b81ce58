#!/usr/bin/env bash
# Runs the benchmarks: set-up (cached), two databases (stock crm / crm + crm_regulation,
# kept between runs), then benchmarks/bench_stage_history.py.
#   benchmarks/run.sh                          # backfill measured on 100,000 leads
#   BACKFILL_LEADS=1000000 benchmarks/run.sh   # the 1,000,000-lead figure
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

CONF="$ODOO_DIR/bench.conf"
STOCK_DB=crm_regulation_bench_stock
ADDON_DB=crm_regulation_bench_addon
AUDIT_DB=crm_regulation_bench_audit

setup_venv
trap pg_stop EXIT
pg_start
write_odoo_conf "$CONF" "log_level = warn
workers = 0
max_cron_threads = 0"

# Fresh databases each run: the generator adds leads every time.
drop_db "$STOCK_DB"
drop_db "$ADDON_DB"
drop_db "$AUDIT_DB"
log "creating $STOCK_DB (crm, no demo data)"
odoo_bin -c "$CONF" -d "$STOCK_DB" -i crm --stop-after-init --no-http \
    || die "could not create $STOCK_DB."
"$PG_BIN/createdb" -T "$STOCK_DB" "$ADDON_DB"
log "installing crm_regulation into $ADDON_DB"
odoo_bin -c "$CONF" -d "$ADDON_DB" -i crm_regulation --stop-after-init --no-http \
    || die "could not install crm_regulation into $ADDON_DB."
"$PG_BIN/createdb" -T "$ADDON_DB" "$AUDIT_DB"  # the same, its teams put in audit by the bench

cd "$ROOT/benchmarks"
"$VENV/bin/python" bench_stage_history.py -c "$CONF" --stock-db "$STOCK_DB" --addon-db "$ADDON_DB" --audit-db "$AUDIT_DB" \
    --backfill-leads "${BACKFILL_LEADS:-100000}" | tee "$ROOT/.odoo/bench.log"
if [ "${KEEP_DBS:-0}" != 1 ]; then
    drop_db "$STOCK_DB"
    drop_db "$ADDON_DB"
    drop_db "$AUDIT_DB"
fi
