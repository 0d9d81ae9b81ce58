#!/usr/bin/env bash
# Runs the import benchmark of the data standard: set-up (cached), one fresh database (crm +
# crm_regulation, no demo data), then benchmarks/bench_import.py: 10,000 leads imported
# through crm.lead.load() under the phone standards off, flag and required, in one run
# (dropped at the end; KEEP_DBS=1 keeps it).
#   benchmarks/run_import.sh                         # 10,000 leads, 3 rounds
#   IMPORT_LEADS=2000 benchmarks/run_import.sh --rounds 1   # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench import "${IMPORT_LEADS:-10000}" "$@"
