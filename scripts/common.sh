# shellcheck shell=bash
# Shared set-up for scripts/run.sh, scripts/test.sh and benchmarks/run.sh.
#
# Set-up is idempotent and cached: the virtual environment (.venv/), the unpacked Odoo
# source (.odoo/), and the embedded PostgreSQL cluster (.pg/) live in ignored folders of
# the repository and are reused by the next run.
#
# Where Odoo comes from, in this order:
#   1. .venv/ already set up (a stamp file records from what): reused;
#   2. ODOO_SOURCE given (a .tar.gz archive, an unpacked source folder, or an http(s) URL):
#      installed into .venv/;
#   3. the Python in use already imports Odoo 19 (and ODOO_USE_SYSTEM is not 0): .venv/ sees
#      that Python's packages (a .pth file) and Odoo is not installed again;
#   4. the official Odoo 19.0 nightly source archive (needs internet).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
ODOO_DIR="$ROOT/.odoo"
PG_DIR="${CRM_REGULATION_PG_DIR:-$ROOT/.pg}"
PG_PORT="${PG_PORT:-55432}"
PYTHON="${PYTHON:-python3}"
ODOO_SOURCE_DEFAULT="https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz"
ODOO_SOURCE_GIVEN="${ODOO_SOURCE:+1}"
ODOO_SOURCE="${ODOO_SOURCE:-$ODOO_SOURCE_DEFAULT}"
ADDON_REQUIREMENTS="$ROOT/requirements.txt"
STAMP="$VENV/.crm_regulation_setup"

log() { printf '\033[1m[crm_regulation]\033[0m %s\n' "$*" >&2; }
die() {
    printf '\033[1;31m[crm_regulation] ERROR:\033[0m %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '    %s\n' "$line" >&2; done
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "'$*' needs root rights and sudo is not available." \
            "Install the Debian packages named above by hand, then run this command again."
    fi
}

# ---------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------
ensure_debian_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || die "missing system packages: ${missing[*]} (and no apt-get to install them)." \
            "Install them with your system's package manager, then run this command again."
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
        || die "apt-get update failed." "Check the machine's access to the Debian mirrors."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed."
}

# ---------------------------------------------------------------------------------------
# Python environment with Odoo 19
# ---------------------------------------------------------------------------------------
source_identity() {
    # What identifies ODOO_SOURCE for the cache stamp (cheap: no hashing of 90 MB).
    if use_system_odoo; then
        echo "system:$("$PYTHON" -c 'import odoo.release as r; print(r.__file__)')"
    elif [ -f "$ODOO_SOURCE" ]; then
        stat -c 'file:%n:%s:%Y' "$(readlink -f "$ODOO_SOURCE")"
    elif [ -d "$ODOO_SOURCE" ]; then
        echo "dir:$(readlink -f "$ODOO_SOURCE")"
    else
        echo "url:$ODOO_SOURCE"
    fi
}

# The stamp has two lines: where Odoo came from, and what else the environment holds.
# Without an explicit ODOO_SOURCE, an environment set up from any source is reused.
setup_stamp() {
    source_identity
    {
        "$PYTHON" -c 'import sys; print(sys.version)'
        cat "$ADDON_REQUIREMENTS"
        echo "setup-version: 2"
    } | sha256sum | cut -d' ' -f1
}

stamp_matches() {
    [ -f "$STAMP" ] || return 1
    if [ -n "$ODOO_SOURCE_GIVEN" ]; then
        [ "$(cat "$STAMP")" = "$1" ]
    else
        [ "$(tail -n 1 "$STAMP")" = "$(echo "$1" | tail -n 1)" ]
    fi
}

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "no '$PYTHON' on PATH." "Install Python 3.10 to 3.13, or set PYTHON=/path/to/python3."
    "$PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 13)))' \
        || die "$("$PYTHON" --version 2>&1) is not supported: Odoo 19 needs Python 3.10 to 3.13." \
            "Set PYTHON=/path/to/python3.x and run again."
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || ensure_debian_packages python3-venv
}

# Unpacks or downloads ODOO_SOURCE; prints the path of the source tree (with setup.py).
fetch_odoo_source() {
    local src="$ODOO_SOURCE" archive tree
    mkdir -p "$ODOO_DIR"
    if [ -d "$src" ]; then
        [ -f "$src/odoo-bin" ] && [ -f "$src/odoo/release.py" ] \
            || die "ODOO_SOURCE=$src is a folder but not an Odoo source tree (no odoo-bin / odoo/release.py)." \
                "Point ODOO_SOURCE at an Odoo 19.0 source folder or its .tar.gz archive."
        readlink -f "$src"
        return
    fi
    case "$src" in
        http://* | https://*)
            archive="$ODOO_DIR/download.tar.gz"
            if [ ! -s "$archive" ]; then
                log "downloading Odoo 19.0 source from $src"
                "$PYTHON" - "$src" "$archive.part" <<'PY' || die "could not download ODOO_SOURCE=$src." \
                    "Without internet access, set ODOO_SOURCE to a local Odoo 19.0 source archive" \
                    "(e.g. ODOO_SOURCE=../shared/odoo/odoo-19.0.tar.gz)."
import shutil, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=60) as resp, open(sys.argv[2], "wb") as out:
        shutil.copyfileobj(resp, out)
except Exception as exc:  # noqa: BLE001 - report any failure in one line
    sys.exit(f"download failed: {exc}")
PY
                mv "$archive.part" "$archive"
            fi
            ;;
        *)
            [ -e "$src" ] || die "ODOO_SOURCE=$src does not exist." \
                "Set ODOO_SOURCE to an Odoo 19.0 source archive (.tar.gz), a source folder or a URL."
            archive="$(readlink -f "$src")"
            ;;
    esac
    tree="$ODOO_DIR/src"
    rm -rf "$tree.tmp"
    mkdir -p "$tree.tmp"
    log "unpacking $archive"
    tar -xzf "$archive" -C "$tree.tmp" 2>"$ODOO_DIR/tar.log" \
        || die "ODOO_SOURCE=$src is not a readable .tar.gz archive (corrupt or truncated?)." \
            "tar said: $(tail -n 2 "$ODOO_DIR/tar.log" | tr '\n' ' ')" \
            "Fetch the archive again (check ../shared/odoo/SHA256SUMS) or point ODOO_SOURCE elsewhere."
    local top
    top="$(find "$tree.tmp" -mindepth 1 -maxdepth 2 -name odoo-bin -printf '%h\n' | head -n 1)"
    [ -n "$top" ] && [ -f "$top/odoo/release.py" ] \
        || die "ODOO_SOURCE=$src does not contain an Odoo source tree (no odoo-bin inside)."
    grep -Eq "^version_info = \(19, 0" "$top/odoo/release.py" \
        || die "ODOO_SOURCE=$src is not Odoo 19.0 ($(grep -E '^version_info' "$top/odoo/release.py"))."
    rm -rf "$tree"
    mv "$top" "$tree"
    rm -rf "$tree.tmp"
    echo "$tree"
}

# No ODOO_SOURCE given, not turned off, and the Python in use already imports Odoo 19.
use_system_odoo() {
    [ -z "$ODOO_SOURCE_GIVEN" ] && [ "${ODOO_USE_SYSTEM:-1}" != 0 ] \
        && "$PYTHON" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 19)' 2>/dev/null
}

setup_venv() {
    check_python
    ensure_debian_packages libpq-dev
    command -v gcc >/dev/null 2>&1 || ensure_debian_packages gcc
    local stamp
    stamp="$(setup_stamp)"
    if stamp_matches "$stamp" && "$VENV/bin/python" -c 'import odoo.release' 2>/dev/null; then
        log "reusing the environment in .venv/ (Odoo $("$VENV/bin/python" -c 'import odoo.release as r; print(r.version)'))"
        return 0
    fi
    local t0=$SECONDS tree="" req ignore_installed=""
    mkdir -p "$ODOO_DIR"
    if use_system_odoo; then
        log "using the Odoo 19 that $PYTHON already imports"
        ignore_installed="--ignore-installed"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" || die "could not create a virtual environment with $PYTHON."
        # The new environment sees what $PYTHON sees (its own venv and editable installs
        # included), after its own site-packages: a .pth file adding $PYTHON's sys.path.
        "$PYTHON" -c 'import sys; print("".join(f"import site; site.addsitedir({p!r})\n" for p in sys.path if p))' \
            >"$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/crm_regulation_system_odoo.pth"
    else
        # Fetch first: a bad ODOO_SOURCE must not destroy a working environment.
        tree="$(fetch_odoo_source)"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" || die "could not create a virtual environment with $PYTHON."
        "$VENV/bin/pip" install -q --upgrade pip wheel setuptools >/dev/null \
            || die "pip could not install pip/wheel/setuptools into .venv (no access to PyPI?)."
        # Odoo's pinned requirements, with two changes: cbor2 5.4.2 has no wheel for
        # Python < 3.12 and its sdist no longer builds; python-ldap is only used by the
        # auth_ldap addon and would need LDAP headers to build.
        req="$ODOO_DIR/requirements.txt"
        sed -e 's/^cbor2==5\.4\.2/cbor2==5.6.5/' -e '/^python-ldap/d' "$tree/requirements.txt" >"$req"
        log "installing Odoo's Python requirements (a few minutes the first time)"
        "$VENV/bin/pip" install -q -r "$req" >"$ODOO_DIR/pip.log" 2>&1 \
            || die "pip could not install Odoo's requirements." "See $ODOO_DIR/pip.log:" \
                "$(tail -n 5 "$ODOO_DIR/pip.log")"
        log "installing Odoo from $tree"
        "$VENV/bin/pip" install -q --no-build-isolation --no-deps -e "$tree" >>"$ODOO_DIR/pip.log" 2>&1 \
            || die "pip could not install Odoo from $tree." "See $ODOO_DIR/pip.log."
    fi
    # --ignore-installed: with the Odoo of the Python in use, its packages are visible too,
    # but the tools (ruff, pylint, pytest) must have their scripts in .venv/bin.
    "$VENV/bin/pip" install -q $ignore_installed -r "$ADDON_REQUIREMENTS" \
        >>"$ODOO_DIR/pip.log" 2>&1 \
        || die "pip could not install the addon's requirements ($ADDON_REQUIREMENTS)." \
            "See $ODOO_DIR/pip.log."
    "$VENV/bin/python" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 19)' \
        || die "the environment in .venv/ does not import Odoo 19."
    echo "$stamp" >"$STAMP"
    log "environment ready in $((SECONDS - t0)) s"
}

odoo_tree() {
    "$VENV/bin/python" -c 'import os, odoo.release as r; print(os.path.dirname(os.path.dirname(os.path.abspath(r.__file__))))'
}

# ---------------------------------------------------------------------------------------
# Embedded PostgreSQL cluster (socket only: no TCP port, nothing to clash with)
# ---------------------------------------------------------------------------------------
PG_OWNER=""
pg_bin() {
    local d
    for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

as_pg_owner() {
    if [ -n "$PG_OWNER" ]; then runuser -u "$PG_OWNER" -- "$@"; else "$@"; fi
}

pg_prepare() {
    if ! pg_bin >/dev/null; then ensure_debian_packages postgresql; fi
    PG_BIN="$(pg_bin)" || die "no PostgreSQL server binaries (initdb) found even after installing 'postgresql'."
    if [ "$(id -u)" = 0 ]; then
        # initdb and postgres refuse to run as root: the cluster belongs to 'postgres'.
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        PG_OWNER=postgres
        if ! runuser -u postgres -- test -x "$(dirname "$PG_DIR")"; then
            # The repository is not reachable by 'postgres' (e.g. under /root): keep the
            # cluster in a folder of its own, named after the repository path.
            PG_DIR="/var/tmp/crm_regulation-pg-$(echo "$ROOT" | sha256sum | cut -c1-12)"
        fi
    fi
    # A Unix socket path is limited to 107 bytes.
    PG_SOCKET_DIR="$PG_DIR"
    if [ ${#PG_SOCKET_DIR} -gt 80 ]; then
        PG_SOCKET_DIR="/tmp/crm_regulation-$(echo "$PG_DIR" | sha256sum | cut -c1-12)"
    fi
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
    [ -n "$PG_OWNER" ] && chown "$PG_OWNER" "$PG_DIR" "$PG_SOCKET_DIR"
    export PGHOST="$PG_SOCKET_DIR" PGPORT="$PG_PORT" PGUSER="${PGUSER:-$(id -un)}"
}

pg_start() {
    pg_prepare
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        log "initialising a PostgreSQL cluster in $PG_DIR/data"
        as_pg_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PGUSER" --auth=trust -E UTF8 \
            --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
            || die "initdb failed." "See $PG_DIR/initdb.log:" "$(tail -n 3 "$PG_DIR/initdb.log")"
    fi
    if as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
        log "PostgreSQL already running (socket $PG_SOCKET_DIR, port $PG_PORT)"
        PG_STARTED_HERE=0
        return 0
    fi
    as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgresql.log" -w -t 60 \
        -o "-k $PG_SOCKET_DIR -p $PG_PORT -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1 \
        || die "PostgreSQL would not start." "Its log ($PG_DIR/postgresql.log) ends with:" \
            "$(tail -n 5 "$PG_DIR/postgresql.log" 2>/dev/null)" \
            "If another server uses socket $PG_SOCKET_DIR/.s.PGSQL.$PG_PORT, set PG_PORT to another number."
    PG_STARTED_HERE=1
    log "PostgreSQL started (socket $PG_SOCKET_DIR, port $PG_PORT)"
}

pg_stop() {
    if [ "${PG_STARTED_HERE:-0}" = 1 ]; then
        as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED_HERE=0
        log "PostgreSQL stopped"
    fi
}


drop_db() { "$PG_BIN/dropdb" --if-exists --force "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------------------------------
# Odoo configuration
# ---------------------------------------------------------------------------------------
write_odoo_conf() {
    # $1: path of the config file, $2: extra lines
    local tree
    tree="$(odoo_tree)"
    mkdir -p "$ODOO_DIR/filestore"
    cat >"$1" <<CONF
[options]
addons_path = $tree/odoo/addons,$tree/addons,$ROOT
data_dir = $ODOO_DIR/filestore
db_host = $PG_SOCKET_DIR
db_port = $PG_PORT
db_user = $PGUSER
list_db = True
${2:-}
CONF
}

odoo_bin() { "$VENV/bin/python" "$(odoo_tree)/odoo-bin" "$@"; }
