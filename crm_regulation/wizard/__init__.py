from . import crm_lead_lost, crm_lead_restore, crm_regulation_handover
