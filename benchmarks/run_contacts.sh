#!/usr/bin/env bash
# Runs the contacts benchmark of the role matrix: set-up (cached), one fresh database (crm +
# crm_regulation, no demo data), then benchmarks/bench_contacts.py (dropped at the end;
# KEEP_DBS=1 keeps it).
#   benchmarks/run_contacts.sh                                          # 1,000,000 leads, 500,000 contacts
#   CONTACT_LEADS=20000 benchmarks/run_contacts.sh --contacts 10000     # a quick try
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run_fresh_bench contacts "${CONTACT_LEADS:-1000000}" "$@"
