import logging

from odoo.tools import SQL
from odoo.tools.sql import column_exists

_logger = logging.getLogger(__name__)


def prefill_outcome_columns(cr):
    """Create and fill the stored computed columns of crm.lead that a big database must
    not compute lead by lead at install or upgrade: the outcome (every existing reason is a
    loss until it is categorized) and the loss review (past losses are not put up for
    review).

    A new outcome column is created with the outcome most leads have as its PostgreSQL
    default, then the default is dropped: those leads read it from the catalog (no row is
    rewritten), and only the others are updated. An UPDATE of every lead writes a new
    version of each row and of its entries in every index of crm_lead (the trigram
    indexes most of all): 100 s for a million leads, against 25 s for 30 % of them."""
    outcome = SQL("CASE won_status WHEN 'won' THEN 'won' WHEN 'lost' THEN 'lost' ELSE 'open' END")
    created = not column_exists(cr, "crm_lead", "outcome")
    if created:
        cr.execute(
            SQL(
                "SELECT %s AS outcome FROM crm_lead GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
                outcome,
            )
        )
        most = cr.fetchone()[0] if cr.rowcount else "open"
        cr.execute(SQL("ALTER TABLE crm_lead ADD COLUMN outcome varchar DEFAULT %s", most))
        # new rows get their outcome from the ORM (the field's default), as any column
        cr.execute("ALTER TABLE crm_lead ALTER COLUMN outcome DROP DEFAULT")
    cr.execute(
        """
        ALTER TABLE crm_lead
            ADD COLUMN IF NOT EXISTS loss_review_state varchar,
            ADD COLUMN IF NOT EXISTS loss_reviewed_by_id int4,
            ADD COLUMN IF NOT EXISTS loss_review_date timestamp
        """
    )
    # a new column: the leads whose outcome is not the default; a column of an older
    # version: the leads without one (a disqualification is kept)
    cr.execute(
        SQL(
            "UPDATE crm_lead SET outcome = %s WHERE %s",
            outcome,
            SQL("outcome <> %s", outcome) if created else SQL("outcome IS NULL"),
        )
    )
    _logger.info("crm_regulation: outcome set for %s existing leads", cr.rowcount)


def prefill_regulation_modes(cr, mode):
    """The regulation mode of the teams that exist, and the companies' default for the
    leads without a team (and new teams), before the ORM fills the new columns: ``audit``
    at install (nothing is refused until an administrator enforces), the mode the teams
    already had at an upgrade from a version without modes (``enforce``)."""
    cr.execute(
        """
        ALTER TABLE crm_team ADD COLUMN IF NOT EXISTS regulation_mode varchar;
        ALTER TABLE res_company ADD COLUMN IF NOT EXISTS crm_regulation_mode varchar;
        """
    )
    cr.execute("UPDATE crm_team SET regulation_mode = %s WHERE regulation_mode IS NULL", [mode])
    cr.execute(
        "UPDATE res_company SET crm_regulation_mode = %s WHERE crm_regulation_mode IS NULL",
        [mode],
    )


def prefill_data_standard_columns(cr):
    """Create the data standard's stored computed columns (the legal form and the matching
    key of company names) empty, so that the ORM does not compute them lead by lead and
    contact by contact at install or upgrade: existing names get their key from the
    duplicate sweep, in batches, and are never rewritten (README, Data standards)."""
    cr.execute(
        """
        ALTER TABLE crm_lead
            ADD COLUMN IF NOT EXISTS legal_form varchar,
            ADD COLUMN IF NOT EXISTS company_key varchar;
        ALTER TABLE res_partner
            ADD COLUMN IF NOT EXISTS legal_form varchar,
            ADD COLUMN IF NOT EXISTS company_key varchar;
        """
    )


def pre_init_hook(env):
    prefill_outcome_columns(env.cr)
    prefill_data_standard_columns(env.cr)
    prefill_regulation_modes(env.cr, "audit")


def post_init_hook(env):
    """Open a stay for every lead that exists before the addon is installed.

    One INSERT ... SELECT over crm_lead: a database with a million leads is not walked
    record by record.
    """
    # the closed stays get their business hours with the row: no second pass
    count = env["crm.lead.stage.history"]._backfill(bulk=True)
    _logger.info("crm_regulation: stage history opened for %s existing leads", count)
    # (stays written by data files, the demo's: their business hours; one keyset query on
    # the stays without them, none on a database without demo data)
    env["crm.lead.stage.history"]._fill_business_hours()
    env["crm.team"]._regulation_announce_audit()
    # the companies count calls and meetings as first contacts; the leads get theirs
    companies = env["res.company"].search([("crm_first_contact_activity_type_ids", "=", False)])
    companies.crm_first_contact_activity_type_ids = companies._crm_first_contact_default_types()
    count = env["crm.lead"]._first_contact_backfill()
    _logger.info("crm_regulation: first contact found for %s existing leads", count)


def uninstall_hook(env):
    """Give Odoo's narrowed record rules back their stock domains; drop the duplicate
    sweep's indexes on leads and contacts (Odoo drops only the tables it created)."""
    env["ir.rule"]._crm_regulation_sync_stock_rules(restore=True)
    from .models.crm_duplicate_sweep import sweep_indexes  # noqa: PLC0415

    for name, _table, _column, _where in sweep_indexes():
        env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
