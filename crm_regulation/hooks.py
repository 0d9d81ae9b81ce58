import logging

_logger = logging.getLogger(__name__)


def post_init_hook(env):
    """Open a stay for every lead that exists before the addon is installed.

    One INSERT ... SELECT over crm_lead: a database with a million leads is not walked
    record by record.
    """
    count = env["crm.lead.stage.history"]._backfill()
    _logger.info("crm_regulation: stage history opened for %s existing leads", count)
