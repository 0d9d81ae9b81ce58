#!/usr/bin/env bash
# Runs the revival runner benchmark (benchmarks/bench_revival.py) on a fresh database with
# REVIVAL_ENROLLMENTS lost leads in revival (200,000 by default, 20,000 due), output also in
# .odoo/bench_revival.log; the database is dropped at the end (KEEP_DBS=1 keeps it).
#   benchmarks/run_revival.sh                                   # 200,000 / 20,000
#   REVIVAL_ENROLLMENTS=20000 benchmarks/run_revival.sh --due 2000   # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_fresh_bench revival "${REVIVAL_ENROLLMENTS:-200000}" "$@"
