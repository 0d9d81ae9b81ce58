from . import crm_lead, crm_lead_stage_history
