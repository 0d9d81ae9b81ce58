"""19.0.1.3.0: stays recorded before stage SLAs get their business hours (by id ranges)."""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    count = env["crm.lead.stage.history"]._fill_business_hours()
    _logger.info("crm_regulation: business hours of %s closed stays computed", count)
