#!/usr/bin/env bash
# Runs the KPI engine benchmark (benchmarks/bench_kpi.py) on a fresh database with
# KPI_LEADS leads (1,000,000 by default: about 5,000,000 stays), its output also in
# .odoo/bench_kpi.log.
#   benchmarks/run_kpi.sh                      # 1,000,000 leads
#   KPI_LEADS=100000 benchmarks/run_kpi.sh     # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_fresh_bench kpi "${KPI_LEADS:-1000000}" "$@"
