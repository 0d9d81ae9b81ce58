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
    # a request names only what its kind grants (what 19.0.1.4.0 granted beyond it goes)
    cr.execute(
        """
        DELETE FROM crm_access_request_lead_rel rel USING crm_access_request r
         WHERE r.id = rel.request_id AND r.request_type <> 'leads'
        """
    )
    cr.execute(
        """
        DELETE FROM crm_access_request_team_rel rel USING crm_access_request r
         WHERE r.id = rel.request_id AND r.request_type <> 'teams'
        """
    )
    cr.execute(
        "UPDATE crm_access_request SET group_id = NULL "
        "WHERE request_type <> 'role' AND group_id IS NOT NULL"
    )
    # nothing lasts longer than the company's longest temporary access, from now
    cr.execute(
        """
        WITH longest AS (
            SELECT id, (now() AT TIME ZONE 'UTC')
                       + make_interval(days => crm_access_max_days) AS date_end
              FROM res_company WHERE crm_access_max_days > 0
        )
        UPDATE crm_access_request r
           SET date_end = l.date_end
          FROM longest l
         WHERE l.id = r.company_id AND r.state IN ('pending', 'approved')
           AND r.date_end > l.date_end
        """
    )
    _logger.info("crm_regulation: %s temporary accesses shortened to the longest", cr.rowcount)
    # rules whose domains read what a salesperson may not: archived (each said in the log)
    unsafe = env["crm.regulation.rule"]._archive_unsafe_rules()
    _logger.info("crm_regulation: %s unsafe transition rules archived", len(unsafe))
