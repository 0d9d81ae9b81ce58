#!/usr/bin/env bash
# Runs the stage SLA benchmark: set-up (cached), one fresh database (crm + crm_regulation, no
# demo data), then benchmarks/bench_sla.py. The SLA watcher commits its batches: the
# database is the benchmark's own, dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_sla.sh                          # 1,000,000 open leads
#   SLA_LEADS=20000 benchmarks/run_sla.sh --stage-leads 5000 --due 500   # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench sla "${SLA_LEADS:-1000000}" "$@"
