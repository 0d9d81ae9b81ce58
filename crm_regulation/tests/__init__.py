from . import (
    test_access_control,
    test_disqualification,
    test_duplicates_and_outcomes,
    test_lead_watchers,
    test_regulation_config,
    test_regulation_engine,
    test_regulation_rpc,
    test_role_matrix,
    test_security_attacks,
    test_stage_history,
    test_stage_history_access,
    test_stage_history_backfill,
)
