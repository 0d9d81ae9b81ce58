#!/usr/bin/env bash
# Set-up only: Debian packages, .venv/ with Odoo 19 and the addon's requirements,
# and the embedded PostgreSQL cluster (initialised, then stopped again).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
setup_venv
pg_start
pg_stop
