#!/usr/bin/env bash
# Runs the sales digest benchmark (benchmarks/bench_digest.py) on a fresh database with
# KPI_LEADS leads (1,000,000 by default), output also in .odoo/bench_digest.log; the
# database is dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_digest.sh                      # 1,000,000 leads
#   KPI_LEADS=100000 benchmarks/run_digest.sh     # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_fresh_bench digest "${KPI_LEADS:-1000000}" "$@"
