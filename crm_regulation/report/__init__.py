from . import crm_lead_outcome_report
