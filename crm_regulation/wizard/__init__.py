from . import (
    base_partner_merge,
    crm_lead_lost,
    crm_lead_restore,
    crm_merge_opportunity,
    crm_regulation_handover,
)
