import logging

_logger = logging.getLogger(__name__)


def prefill_outcome_columns(cr):
    """Create and fill the stored computed columns of crm.lead that a big database must
    not compute lead by lead at install or upgrade: the outcome (every existing reason is a
    loss until it is categorized) and the loss review (past losses are not put up for
    review)."""
    cr.execute(
        """
        ALTER TABLE crm_lead
            ADD COLUMN IF NOT EXISTS outcome varchar,
            ADD COLUMN IF NOT EXISTS loss_review_state varchar,
            ADD COLUMN IF NOT EXISTS loss_reviewed_by_id int4,
            ADD COLUMN IF NOT EXISTS loss_review_date timestamp
        """
    )
    cr.execute(
        """
        UPDATE crm_lead
           SET outcome = CASE won_status WHEN 'won' THEN 'won' WHEN 'lost' THEN 'lost'
                         ELSE 'open' END
         WHERE outcome IS NULL
        """
    )
    _logger.info("crm_regulation: outcome set for %s existing leads", cr.rowcount)


def pre_init_hook(env):
    prefill_outcome_columns(env.cr)


def post_init_hook(env):
    """Open a stay for every lead that exists before the addon is installed.

    One INSERT ... SELECT over crm_lead: a database with a million leads is not walked
    record by record.
    """
    count = env["crm.lead.stage.history"]._backfill()
    _logger.info("crm_regulation: stage history opened for %s existing leads", count)
    count = env["crm.lead.stage.history"]._fill_business_hours()
    _logger.info("crm_regulation: business hours of %s closed stays computed", count)


def uninstall_hook(env):
    """Give Odoo's narrowed record rules back their stock domains."""
    env["ir.rule"]._crm_regulation_narrow_stock_rules(restore=True)
