"""SQL of the sales figures, shared by the KPI engine (``crm_team_kpi.py``) and the funnel
and source reports: the pipeline of each team as ranked stages, and how far each lead went.

A team's pipeline is the stages it sees (the stages of no team and its own), ranked by
sequence; a lead is *qualified* once it reached its team's qualification stage (the second
stage of the pipeline when the team names none) or was won. A lead *converted* from a stage
when it later reached a stage ranked after it (skipping stages counts).
"""

from contextlib import contextmanager

from odoo.tools import SQL


@contextmanager
def jit_off(cr):
    """PostgreSQL's JIT off for the statements of the block (then as it was): the planner's
    cost of these scans over a million leads passes the JIT threshold, and compiling costs
    more than the statements themselves."""
    cr.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
    (previous, _off) = cr.fetchone()
    yield  # (an error rolls the transaction back, the setting with it)
    cr.execute("SELECT set_config('jit', %s, true)", [previous])


def team_stages(team_ids=None):
    """SQL rows ``(team_key, stage_id, is_won, rank, qual_rank)`` of the teams' pipelines
    (every team when ``team_ids`` is None; ``team_key`` 0: the pipeline of leads without a
    team, the stages of no team)."""
    teams = SQL("SELECT id, qualification_stage_id FROM crm_team")
    if team_ids is not None:
        teams = SQL("%s WHERE id = ANY(%s)", teams, list(team_ids))
    return SQL(
        """
        SELECT r.team_key, r.stage_id, r.is_won, r.rank,
               COALESCE(max(r.rank) FILTER (WHERE r.stage_id = r.qualification_stage_id)
                        OVER (PARTITION BY r.team_key), 2) AS qual_rank
          FROM (SELECT t.id AS team_key, t.qualification_stage_id, s.id AS stage_id, s.is_won,
                       row_number() OVER (PARTITION BY t.id ORDER BY s.sequence, s.id) AS rank
                  FROM (%(teams)s UNION ALL SELECT 0, NULL) t
                  JOIN crm_stage s
                    ON NOT EXISTS (SELECT 1 FROM crm_stage_crm_team_rel r
                                    WHERE r.crm_stage_id = s.id)
                    OR EXISTS (SELECT 1 FROM crm_stage_crm_team_rel r
                                WHERE r.crm_stage_id = s.id AND r.crm_team_id = t.id)) r
        """,
        teams=teams,
    )


def lead_reach(lead, entry):
    """SQL of the highest rank lead ``lead`` (an alias of crm_lead, joined to ``ts``, the
    team stages, on its own team) reached in its team's pipeline from its stay ``entry`` on
    (a lead moved back to an earlier stage did not go on from it)."""
    return SQL(
        """(SELECT max(rs.rank) FROM crm_lead_stage_history rh
              JOIN ts rs ON rs.team_key = COALESCE(%(lead)s.team_id, 0)
                        AND rs.stage_id = rh.stage_id
             WHERE rh.lead_id = %(lead)s.id AND rh.date_in >= %(entry)s.date_in)""",
        lead=SQL.identifier(lead),
        entry=SQL.identifier(entry),
    )


def qualified(lead):
    """SQL: lead ``lead`` reached its team's qualification stage (or later), or was won."""
    return SQL(
        """(%(lead)s.outcome = 'won' OR EXISTS (
              SELECT 1 FROM crm_lead_stage_history qh
                JOIN ts qs ON qs.team_key = COALESCE(%(lead)s.team_id, 0)
                          AND qs.stage_id = qh.stage_id
               WHERE qh.lead_id = %(lead)s.id AND qs.rank >= qs.qual_rank))""",
        lead=SQL.identifier(lead),
    )


def stage_entries(stays_filter):
    """SQL rows ``(id, lead_id, stage_id, date_in, hours, breached, with_sla)`` of the first
    entry of leads into stages (the first stay of a lead in a stage: its business hours when
    it ended, its SLA outcome), among the stays ``h`` that ``stays_filter`` selects. A filter
    on the entry date reaches the index of the stays (no DISTINCT, no aggregate)."""
    return SQL(
        """
        SELECT h.id, h.lead_id, h.stage_id, h.date_in, h.duration_business_hours AS hours,
               COALESCE(h.sla_breached, FALSE) AS breached,
               h.sla_deadline IS NOT NULL AS with_sla
          FROM crm_lead_stage_history h
         WHERE h.stage_id IS NOT NULL AND %s
           AND NOT EXISTS (SELECT 1 FROM crm_lead_stage_history e
                            WHERE e.lead_id = h.lead_id AND e.stage_id = h.stage_id
                              AND (e.date_in, e.id) < (h.date_in, h.id))
        """,
        stays_filter,
    )


def stage_outcome(lead, stage, entry):
    """SQL columns of a lead's first entry ``entry`` into a stage (``lead`` an alias of
    crm_lead, ``stage`` of the team stages ``ts``): ``counted`` (disqualified leads are left
    out past the qualification stage), ``went_on`` (reached a later stage, or won),
    ``dropped`` (lost, disqualified, still there: NULL when it went on). (OFFSET 0: the
    reach is read once per entry, not once per column that uses it.)"""
    return SQL(
        """
        SELECT c.counted, c.went_on,
               CASE WHEN c.went_on THEN NULL
                    WHEN %(lead)s.outcome IN ('lost', 'disqualified') THEN %(lead)s.outcome
                    ELSE 'still_there' END AS dropped
          FROM (SELECT NOT (%(lead)s.outcome = 'disqualified'
                            AND %(stage)s.rank >= %(stage)s.qual_rank) AS counted,
                       (%(lead)s.outcome = 'won' OR %(reach)s > %(stage)s.rank) AS went_on
                OFFSET 0) c
        """,
        lead=SQL.identifier(lead),
        stage=SQL.identifier(stage),
        reach=lead_reach(lead, entry),
    )
