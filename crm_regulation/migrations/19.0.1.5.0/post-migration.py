"""19.0.1.5.0: the attack review's fixes on an existing database."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)

# the stage history's rules of 19.0.1.4.0 (crm's stock scope), replaced by the lead's scope
OBSOLETE_RULES = (
    "crm_regulation.crm_lead_stage_history_rule_personal",
    "crm_regulation.crm_lead_stage_history_rule_all",
)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid in OBSOLETE_RULES:
        rule = env.ref(xmlid, raise_if_not_found=False)
        if rule:
            rule.unlink()
    # access requests belong to the company of their requester
    cr.execute(
        """
        UPDATE crm_access_request r
           SET company_id = u.company_id
          FROM res_users u
         WHERE u.id = r.user_id AND r.company_id IS DISTINCT FROM u.company_id
        """
    )
    # rules whose domains read what a salesperson may not: archived (each said in the log)
    unsafe = env["crm.regulation.rule"]._archive_unsafe_rules()
    _logger.info("crm_regulation: %s unsafe transition rules archived", len(unsafe))
