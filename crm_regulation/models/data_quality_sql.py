"""SQL of the data quality of leads, shared by the data quality report
(``report/crm_data_quality_report.py``) and the KPI engine's ``data_quality`` figure
(``crm_team_kpi.py``). Set-based: one expression per column, evaluated in the statement
that reads the leads, whatever their number.

* **Completeness**: the fields the regulation requires to enter the stage a lead is in
  (``crm.stage.required_field_ids``, the ``StageSpec.field_names`` of the cached
  regulation), "set" as ``Evaluation.check_field`` says: not empty, not zero, not false
  (x2many: at least one line). Leads of a team (or, without a team, a company) whose
  regulation mode is ``off`` are required nothing.
* **Invalid values**: a phone not empty that could not be read as a number
  (``phone_sanitized`` empty: ``phone_invalid``), an e-mail Odoo found incorrect
  (``email_state``).
* **Duplicate**: the lead shares its E.164 phone, its normalized e-mail or its company
  name key with an older open lead of the same company (whoever may read that one: the
  warning at creation already names the original).
"""

from collections import defaultdict

from odoo.tools import SQL

from .regulation import OFF

TEXT_TYPES = ("char", "text", "html", "selection")
NUMBER_TYPES = ("integer", "float", "monetary")


def field_is_set(env, lead, fname):
    """SQL: the field ``fname`` of lead ``lead`` (an alias of crm_lead) is set, as the
    regulation's checklist says (None: not a field the SQL can read)."""
    field = env["crm.lead"]._fields.get(fname)
    if field is None or not field.store:
        return None
    if field.type == "many2many":
        return SQL(
            "EXISTS (SELECT 1 FROM %s r WHERE r.%s = %s.id)",
            SQL.identifier(field.relation),
            SQL.identifier(field.column1),
            SQL.identifier(lead),
        )
    if field.type == "one2many":
        comodel = env[field.comodel_name]
        return SQL(
            "EXISTS (SELECT 1 FROM %s r WHERE r.%s = %s.id)",
            SQL.identifier(comodel._table),
            SQL.identifier(field.inverse_name),
            SQL.identifier(lead),
        )
    if not field.column_type:
        return None
    column = SQL.identifier(lead, fname, to_flush=field)
    if field.type in TEXT_TYPES and not field.translate:
        return SQL("COALESCE(%s, '') <> ''", column)
    if field.type in NUMBER_TYPES:
        return SQL("COALESCE(%s, 0) <> 0", column)
    if field.type == "boolean":
        return SQL("COALESCE(%s, FALSE)", column)
    return SQL("%s IS NOT NULL", column)


def regulation_applies(regulation, lead):
    """SQL: the regulation applies to lead ``lead`` (its team's mode, or its company's
    without a team, is not ``off``)."""
    off_teams = sorted(team for team, mode in regulation.modes.items() if mode == OFF)
    off_companies = sorted(
        company for company, mode in regulation.company_modes.items() if mode == OFF
    )
    first_company = next(iter(regulation.company_modes), 0)
    alias = SQL.identifier(lead)
    return SQL(
        """CASE WHEN %(lead)s.team_id IS NOT NULL THEN %(lead)s.team_id <> ALL(%(teams)s)
                ELSE COALESCE(%(lead)s.company_id, %(first)s) <> ALL(%(companies)s) END""",
        lead=alias,
        teams=off_teams,
        companies=off_companies,
        first=first_company,
    )


def lead_quality(env, lead="l"):
    """SQL columns ``required, missing, phone_invalid, email_invalid, duplicate`` of the
    data quality of lead ``lead`` (an alias of crm_lead), for a SELECT list."""
    regulation = env["crm.regulation.rule"]._get_regulation()
    stages_by_field = defaultdict(list)
    for stage in regulation.stages.values():
        for fname in stage.field_names:
            stages_by_field[fname].append(stage.id)
    alias = SQL.identifier(lead)
    required, missing = [], []
    for fname, stage_ids in sorted(stages_by_field.items()):
        is_set = field_is_set(env, lead, fname)
        if is_set is None:
            continue
        at_stage = SQL("%s.stage_id = ANY(%s)", alias, sorted(stage_ids))
        required.append(SQL("(%s)::int", at_stage))
        missing.append(SQL("(%s AND NOT (%s))::int", at_stage, is_set))
    applies = regulation_applies(regulation, lead)
    Lead = env["crm.lead"]

    def column(fname):
        return SQL.identifier(lead, fname, to_flush=Lead._fields[fname])

    return SQL(
        """
        CASE WHEN %(applies)s THEN %(required)s ELSE 0 END AS required,
        CASE WHEN %(applies)s THEN %(missing)s ELSE 0 END AS missing,
        (COALESCE(%(phone)s, '') <> '' AND COALESCE(%(sanitized)s, '') = '') AS phone_invalid,
        COALESCE(%(email_state)s = 'incorrect', FALSE) AS email_invalid,
        EXISTS (
            SELECT 1 FROM crm_lead o
             WHERE o.active AND o.outcome = 'open' AND o.id <> %(lead)s.id
               AND o.company_id IS NOT DISTINCT FROM %(lead)s.company_id
               AND (o.create_date, o.id) < (%(lead)s.create_date, %(lead)s.id)
               AND (o.phone_sanitized = %(sanitized)s
                    OR o.email_normalized = %(email)s
                    OR o.company_key = %(key)s)
        ) AS duplicate
        """,
        applies=applies,
        required=SQL(" + ").join(required) if required else SQL("0"),
        missing=SQL(" + ").join(missing) if missing else SQL("0"),
        lead=alias,
        phone=column("phone"),
        sanitized=column("phone_sanitized"),
        email_state=column("email_state"),
        email=column("email_normalized"),
        key=column("company_key"),
    )


def quality_ok(row="q"):
    """SQL: the lead of the quality columns ``row`` (``lead_quality``) has complete data,
    no invalid value, and is no duplicate."""
    alias = SQL.identifier(row)
    return SQL(
        "(%(q)s.missing = 0 AND NOT %(q)s.phone_invalid AND NOT %(q)s.email_invalid "
        "AND NOT %(q)s.duplicate)",
        q=alias,
    )
