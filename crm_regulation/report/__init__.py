from . import (
    crm_activity_report,
    crm_data_quality_report,
    crm_lead_outcome_report,
    crm_lead_source_report,
    crm_regulation_document,
    crm_regulation_funnel_report,
    crm_regulation_report,
    crm_revival_report,
)
