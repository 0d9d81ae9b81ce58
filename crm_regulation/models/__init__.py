# isort: skip_file
# the mixin first: the other models inherit it
from . import crm_regulation_config_mixin, crm_regulation_scope_mixin, crm_regulation_sla_mixin
from . import crm_regulation_column_defaults
from . import (
    crm_lead,
    crm_lead_regulation,
    crm_lead_outcome,
    crm_lead_qualification,
    crm_lead_stale,
    crm_lead_sla,
    crm_lead_duplicates,
    crm_lead_first_contact,
    crm_lead_access,
    crm_access_request,
    crm_lead_stage_history,
    crm_kpi_target,
    crm_lost_reason,
    crm_regulation_rule,
    crm_regulation_violation,
    crm_stage,
    crm_stage_sla,
    crm_team,
    crm_team_kpi,
    crm_team_member,
    ir_rule,
    mail_activity,
    mail_message,
    mail_tracking_value,
    res_company,
    res_config_settings,
    res_users,
    resource_calendar,
)
