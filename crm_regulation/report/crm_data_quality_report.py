from odoo import fields, models
from odoo.tools import SQL

from ..models.data_quality_sql import lead_quality, quality_ok


class CrmDataQualityReport(models.Model):
    """Data quality per salesperson: one row per lead (open ones by default) with the
    completeness of the fields the regulation requires at its stage, its invalid values
    (phone, e-mail) and whether it duplicates an older open lead (``data_quality_sql``).
    The share of leads with good data is the KPI ``data_quality`` of the leads created in
    a period. The statement is built when read, from the cached regulation: a stage's
    required fields apply at once, without a view to recreate."""

    _name = "crm.data.quality.report"
    _inherit = ["crm.regulation.scope.mixin"]  # rules on the lead's scope
    _description = "Data Quality per Salesperson"
    _auto = False
    _order = "create_date desc"
    _rec_name = "lead_id"
    _depends = {
        "crm.lead": [
            "create_date",
            "create_uid",
            "team_id",
            "user_id",
            "company_id",
            "stage_id",
            "active",
            "outcome",
            "phone",
            "phone_sanitized",
            "email_state",
            "email_normalized",
            "company_key",
        ],
    }

    lead_id = fields.Many2one("crm.lead", readonly=True)
    create_date = fields.Datetime(string="Created On", readonly=True)
    created_by_id = fields.Many2one("res.users", readonly=True, help="Who entered the lead.")
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    stage_id = fields.Many2one("crm.stage", readonly=True)
    is_open = fields.Boolean(string="Open Lead", readonly=True)
    lead_count = fields.Integer(string="Leads", readonly=True)
    required_count = fields.Integer(
        string="Required Fields",
        readonly=True,
        help="Fields the regulation requires to enter the lead's stage.",
    )
    missing_count = fields.Integer(
        string="Missing Fields",
        readonly=True,
        help="Required fields of the lead's stage that are empty (or zero).",
    )
    incomplete_count = fields.Integer(
        string="Incomplete Leads", readonly=True, help="Leads with a required field missing."
    )
    invalid_phone_count = fields.Integer(
        string="Invalid Phones",
        readonly=True,
        help="Leads whose phone could not be read as a valid number of its country.",
    )
    invalid_email_count = fields.Integer(
        string="Invalid E-mails", readonly=True, help="Leads whose e-mail is incorrect."
    )
    duplicate_count = fields.Integer(
        string="Duplicates",
        readonly=True,
        help="Leads sharing their phone, e-mail or company name with an older open lead of "
        "the same company.",
    )
    good_count = fields.Integer(
        string="Leads with Good Data",
        readonly=True,
        help="Complete, no invalid phone or e-mail, no duplicate.",
    )
    completeness = fields.Float(
        string="Completeness (%)",
        aggregator="avg",
        readonly=True,
        help="Required fields filled / required fields, per lead (100 when its stage "
        "requires none), averaged over the leads.",
    )
    data_quality = fields.Float(
        string="Data Quality (%)",
        aggregator="avg",
        readonly=True,
        help="Leads with good data / leads: complete, no invalid phone or e-mail, not a "
        "duplicate of an older open lead.",
    )

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT l.id, l.id AS lead_id, l.create_date, l.create_uid AS created_by_id,
                   l.user_id, l.team_id, l.company_id, l.stage_id,
                   (l.active AND l.outcome = 'open') AS is_open,
                   1 AS lead_count,
                   q.required AS required_count,
                   q.missing AS missing_count,
                   (q.missing > 0)::int AS incomplete_count,
                   q.phone_invalid::int AS invalid_phone_count,
                   q.email_invalid::int AS invalid_email_count,
                   q.duplicate::int AS duplicate_count,
                   %(ok)s::int AS good_count,
                   CASE WHEN q.required > 0
                        THEN 100.0 * (q.required - q.missing) / q.required
                        ELSE 100.0 END AS completeness,
                   CASE WHEN %(ok)s THEN 100.0 ELSE 0.0 END AS data_quality
              FROM crm_lead l
             CROSS JOIN LATERAL (SELECT %(quality)s) q
            """,
            quality=lead_quality(self.env, "l"),
            ok=quality_ok("q"),
        )
