#!/usr/bin/env bash
# Runs the watcher benchmark: set-up (cached), one fresh database (crm + crm_regulation, no
# demo data), then benchmarks/bench_watchers.py. The crons commit their batches: the
# database is the benchmark's own, dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_watchers.sh                          # 1,000,000 open leads
#   WATCHER_LEADS=20000 benchmarks/run_watchers.sh      # a quick try
#   benchmarks/run_watchers.sh --full-plans             # arguments go to bench_watchers.py
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench watchers "${WATCHER_LEADS:-1000000}" "$@"
