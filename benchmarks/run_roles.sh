#!/usr/bin/env bash
# Runs the role-matrix benchmark: set-up (cached), one fresh database (crm + crm_regulation,
# no demo data), then benchmarks/bench_roles.py (dropped at the end; KEEP_DBS=1 keeps it).
#   benchmarks/run_roles.sh                     # 1,000,000 leads, 200 salespeople
#   ROLE_LEADS=20000 benchmarks/run_roles.sh    # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench roles "${ROLE_LEADS:-1000000}" "$@"
