#!/usr/bin/env bash
# The run command: set-up (cached), the embedded PostgreSQL, a demo database with the
# addon and demo data, and Odoo served on http://127.0.0.1:8069 until Ctrl-C.
#   scripts/run.sh [odoo-bin arguments...]   e.g. scripts/run.sh -u crm_regulation
# Environment: HTTP_PORT (8069), DEMO_DB (crm_regulation_demo), ODOO_SOURCE, PG_PORT.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HTTP_PORT="${HTTP_PORT:-8069}"
DB="${DEMO_DB:-crm_regulation_demo}"
CONF="$ODOO_DIR/run.conf"

port_free() {
    "$VENV/bin/python" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

setup_venv
port_free "$HTTP_PORT" || die "port $HTTP_PORT on 127.0.0.1 is already in use." \
    "Stop what listens there (ss -ltnp | grep :$HTTP_PORT) or choose another port: HTTP_PORT=8070 $0"

cleanup() { pg_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM
pg_start
write_odoo_conf "$CONF" "http_interface = 127.0.0.1
http_port = $HTTP_PORT
dbfilter = ^$DB\$
workers = 0"

state=$("$PG_BIN/psql" -X -At -d "$DB" -c \
    "SELECT state FROM ir_module_module WHERE name = 'crm_regulation'" 2>/dev/null || true)
if [ "$state" != installed ]; then
    log "creating the demo database $DB (crm and crm_regulation with demo data, about a minute)"
    drop_db "$DB"
    odoo_bin -c "$CONF" -d "$DB" -i crm_regulation --with-demo --stop-after-init --no-http \
        --log-level=warn || die "the demo database could not be created." "See the log above."
fi

cat >&2 <<MSG

  CRM Regulation demo is starting on  http://127.0.0.1:$HTTP_PORT
  login: admin   password: admin      (database $DB)
  Ctrl-C stops Odoo and the local PostgreSQL.

MSG
odoo_bin -c "$CONF" -d "$DB" "$@"
