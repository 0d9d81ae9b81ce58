#!/usr/bin/env bash
# Refreshes crm_regulation/i18n/crm_regulation.pot from a database with the addon installed,
# then merges it into every .po file (new terms get an empty translation, obsolete ones go).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=crm_regulation_i18n
CONF="$ODOO_DIR/i18n.conf"
I18N="$ROOT/crm_regulation/i18n"

setup_venv
trap pg_stop EXIT
pg_start
write_odoo_conf "$CONF" "log_level = warn"
drop_db "$DB"
odoo_bin -c "$CONF" -d "$DB" -i crm_regulation --stop-after-init --no-http \
    || die "could not install crm_regulation into $DB."
odoo_bin i18n export -c "$CONF" -d "$DB" -o "$I18N/crm_regulation.pot" crm_regulation \
    || die "odoo-bin i18n export failed."
drop_db "$DB"
"$VENV/bin/python" - "$I18N" <<'PY'
import pathlib, sys
import polib
folder = pathlib.Path(sys.argv[1])
pot = polib.pofile(str(folder / "crm_regulation.pot"))
for path in sorted(folder.glob("*.po")):
    po = polib.pofile(str(path))
    po.merge(pot)
    po.obsolete_entries()[:] = []
    for entry in [e for e in po if e.obsolete]:
        po.remove(entry)
    po.save(str(path))
    print(f"{path.name}: {po.percent_translated()}% translated, "
          f"{len(po.untranslated_entries())} untranslated")
PY
