#!/usr/bin/env bash
# Runs the duplicate sweep benchmark: set-up (cached), one fresh database (crm +
# crm_regulation, no demo data), then benchmarks/bench_duplicates.py: the sweep's full pass
# against one hand-written SQL grouping of the same keys (dropped at the end; KEEP_DBS=1
# keeps it).
#   benchmarks/run_duplicates.sh                                              # 1,000,000 leads, 500,000 contacts
#   DUPLICATE_LEADS=100000 benchmarks/run_duplicates.sh --contacts 50000      # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench duplicates "${DUPLICATE_LEADS:-1000000}" "$@"
