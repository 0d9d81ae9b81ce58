from . import crm_lead_outcome_report, crm_regulation_report
