#!/usr/bin/env bash
# Runs the KPI engine benchmark (benchmarks/bench_kpi.py) on a fresh database with
# KPI_LEADS leads (1,000,000 by default: about 5,000,000 stays), then the first paint of Sales
# Control in headless Chromium on the same database (benchmarks/bench_kpi_paint.py); the
# output also in .odoo/bench_kpi.log. The database is dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_kpi.sh                      # 1,000,000 leads
#   KPI_LEADS=100000 benchmarks/run_kpi.sh     # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
keep="${KEEP_DBS:-0}"
KEEP_DBS=1 run_fresh_bench kpi "${KPI_LEADS:-1000000}" "$@"
(cd "$ROOT/benchmarks" && "$VENV/bin/python" -u bench_kpi_paint.py -c "$ODOO_DIR/bench_kpi.conf" \
    -d crm_regulation_bench_kpi) | tee -a "$ROOT/.odoo/bench_kpi.log"
[ "$keep" = 1 ] || drop_db crm_regulation_bench_kpi
