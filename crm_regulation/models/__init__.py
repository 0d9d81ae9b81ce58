from . import (
    crm_lead,
    crm_lead_stage_history,
    crm_regulation_config_mixin,
    crm_regulation_rule,
    crm_stage,
    crm_team,
)
