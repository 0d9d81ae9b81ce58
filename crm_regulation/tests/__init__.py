from . import (
    test_regulation_config,
    test_regulation_engine,
    test_regulation_rpc,
    test_stage_history,
    test_stage_history_access,
    test_stage_history_backfill,
)
