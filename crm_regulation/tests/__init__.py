# Every test_*.py of this folder, so that Odoo's own runner (odoo-bin --test-enable) runs
# what pytest runs (scripts/test.sh fails when one is missing here).
from . import (
    test_access_control,
    test_kpi_dashboard,
    test_kpi_engine,
    test_kpi_target,
    test_lead_duplicates,
    test_lead_first_contact,
    test_lead_outcome,
    test_lead_qualification,
    test_lead_regulation,
    test_lead_sla,
    test_lead_stale,
    test_regulation_config,
    test_regulation_rpc,
    test_role_matrix,
    test_rollout,
    test_security_attacks,
    test_security_classes,
    test_stage_history,
    test_stage_history_access,
    test_stage_history_backfill,
)
