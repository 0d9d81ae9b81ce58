"""The KPI engine: ``crm.team.get_regulation_kpis``, the sales figures of a team (and its
sub-teams) or one of its salespeople over a period, with the previous period of the same
length and the plans, from the leads and their stage history, under the caller's rights.

Every figure is set-based SQL over the leads the caller may read (``crm.lead._search``: the
record rules apply), one statement per family of figures for all the periods asked at once
(the period, the previous one, the plans' periods to date). Cohorts are taken by entry: new
leads by creation, stage conversion and time in stage by the first entry into the stage;
outcomes by the day the lead was closed.
"""

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

import pytz

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .crm_kpi_target import KPI_CODES
from .data_quality_sql import lead_quality, quality_ok
from .kpi_sql import jit_off, qualified, stage_entries, stage_outcome, team_stages

# The longest period the API computes, and the days it computes at all.
MAX_PERIOD_DAYS = 731
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
# KPIs measured as a running total over the period (their plan is compared with the share
# of the period elapsed); the others are rates, medians and states.
CUMULATIVE = {
    "new_leads",
    "revenue_won",
    "activities_done",
    "sla_breached",
    "regulation_bypasses",
    "revived",
    "revived_won",
}
# KPIs for which a lower value is better.
LOWER_IS_BETTER = {
    "first_contact_hours_median",
    "disqualification_rate",
    "loss_rate",
    "stage_hours_median",
    "cycle_days_median",
    "sla_breached",
    "stale_leads",
    "regulation_bypasses",
}
UNITS = {
    "new_leads": "count",
    "first_contact_hours_median": "hours",
    "qualification_rate": "percent",
    "disqualification_rate": "percent",
    "loss_rate": "percent",
    "win_rate": "percent",
    "stage_conversion": "percent",
    "stage_hours_median": "hours",
    "cycle_days_median": "days",
    "revenue_won": "currency",
    "avg_deal_size": "currency",
    "leads_in_work": "count",
    "activities_done": "count",
    "sla_breached": "count",
    "stale_leads": "count",
    "regulation_bypasses": "count",
    "revived": "count",
    "revived_won": "count",
    "data_quality": "percent",
}
# KPIs hidden from those who may not read the leads' revenue (the role matrix's sensitive
# fields: marketers, support)
REVENUE_KPIS = {"revenue_won", "avg_deal_size"}
# KPIs of the leads' contact data (phones, e-mails): hidden from those who may not read them
# (the role matrix's Marketer)
CONTACT_KPIS = {"data_quality"}
# Where the figures keep each salesperson's own: {(code, user id): {Window: Figure}}
BY_USER = "_by_user"
# KPIs of the stage history: for those who may read it
STAY_KPIS = {"stage_conversion", "stage_hours_median", "sla_breached"}
# The earliest day a regulation goes live (older dates are typing errors)
LIVE_DATE_MIN = date(2000, 1, 1)
# How far behind the plan is still "at risk" (a share of the plan, of the period elapsed)
AT_RISK = 0.8
# The team's own conversion for the funnel fill: its last days
FUNNEL_FILL_DAYS = 90
# Headline KPIs of a dashboard: our users' rule is "no more than five"
HEADLINE_MAX = 5
HEADLINE_DEFAULT = (
    "new_leads",
    "first_contact_hours_median",
    "qualification_rate",
    "win_rate",
    "revenue_won",
)


def too_many_kpis(env, kpis, message):
    """The warning of an onchange when more than five KPIs are chosen (our users' rule: no
    more than five), None otherwise."""
    if len(kpis) <= HEADLINE_MAX:
        return None
    return {"warning": {"title": env._("More than five headline KPIs"), "message": message}}


class Window(NamedTuple):
    """A period of whole days: its first and last day, and its bounds in naive UTC."""

    date_from: date
    date_to: date
    start: datetime
    stop: datetime

    @property
    def days(self):
        return (self.date_to - self.date_from).days + 1


class Figure(NamedTuple):
    """One computed figure of one window: a value over a base (its denominator, None for
    plain counts and medians), and a breakdown (salesperson, activity type, ...)."""

    value: float
    base: float | None = None
    details: tuple = ()


def _rate(part, whole):
    return Figure(round(100.0 * part / whole, 1) if whole else 0.0, whole)


def _median(value, count):
    return Figure(round(value or 0.0, 1), count)


class CrmTeamKpi(models.Model):
    _inherit = "crm.team"  # pylint: disable=consider-merging-classes-inherited

    regulation_live_date = fields.Date(
        string="Regulation Live Since",
        tracking=True,
        help="When the team started to work by the regulation: the figures of the weeks "
        "before are compared with the weeks after. Set when the team's mode first becomes "
        "Enforce; a sales administrator corrects it (not the team's own head of sales: it "
        "frames their before/after).",
    )
    dashboard_kpi_ids = fields.Many2many(
        "crm.regulation.kpi",
        "crm_team_dashboard_kpi_rel",
        "team_id",
        "kpi_id",
        string="Headline KPIs",
        help="The 3 to 5 figures at the top of the team's Sales Control dashboard (empty: "
        "new leads, first contact, qualification rate, win rate, revenue won).",
    )

    @api.onchange("dashboard_kpi_ids")
    def _onchange_dashboard_kpi_ids(self):
        return too_many_kpis(
            self.env,
            self.dashboard_kpi_ids,
            self.env._(
                "%s KPIs chosen: a head of sales acts on no more than five. The dashboard "
                "shows them all.",
                len(self.dashboard_kpi_ids),
            ),
        )

    @api.constrains("regulation_live_date")
    def _check_regulation_live_date(self):
        latest = fields.Date.context_today(self) + timedelta(days=366)
        for team in self:
            day = team.regulation_live_date
            if day and not LIVE_DATE_MIN <= day <= latest:
                raise ValidationError(
                    self.env._(
                        "The regulation of %(team)s goes live between %(first)s and a year "
                        "from now (%(day)s given).",
                        team=team.name,
                        first=LIVE_DATE_MIN,
                        day=day,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        teams = super().create(vals_list)
        teams._regulation_go_live()
        return teams

    def write(self, vals):
        if "regulation_live_date" in vals and not self.env.su:
            # a correction of the date is always in the team's chatter
            self = self.with_context(tracking_disable=False, mail_notrack=False)
        result = super().write(vals)
        if vals.get("regulation_mode") == "enforce":
            self._regulation_go_live()
        return result

    def _regulation_go_live(self):
        """The regulation goes live the first time a team enforces it: today."""
        # sudo: the system records the date (a head of sales raises the mode, never sets it)
        teams = self.sudo().filtered(
            lambda team: team.regulation_mode == "enforce" and not team.regulation_live_date
        )
        if teams:
            teams.regulation_live_date = fields.Date.context_today(self)

    def get_regulation_funnel_fill(self, day=False):
        """The leads in work the team's revenue plan needs, at the team's own conversion of
        the last 90 days: {target, actual, remaining, win_rate, avg_deal_size,
        leads_needed, leads_in_work, enough, no_data} (``no_plan`` without a plan)."""
        self.ensure_one()
        self.check_access("read")
        today = self._kpi_window(day, day).date_from if day else fields.Date.context_today(self)
        fill = self._kpi_fill_windows(today)
        if not fill:
            return {"no_plan": True}
        tree = self._kpi_tree()
        figures = self._kpi_figures(
            fill[1:], self.env["res.users"], tree, self._kpi_pipeline(tree), {"closed", "in_work"}
        )
        return self._kpi_fill_result(fill, figures)

    def _kpi_fill_windows(self, today):
        """(the team's revenue plan holding ``today``, its window to date, the last 90
        days), or None without a plan."""
        plans = self._kpi_plans(self._kpi_window(today, today), self.env["res.users"])
        if "revenue_won" not in plans:
            return None
        plan, to_date = plans["revenue_won"]
        return plan, to_date, self._kpi_window(today - timedelta(days=FUNNEL_FILL_DAYS - 1), today)

    @api.model
    def _kpi_fill_result(self, fill, figures):
        plan, to_date, recent = fill

        def value(code, window):
            return (figures[code][None].get(window) or Figure(0.0)).value

        actual = value("revenue_won", to_date)
        win_rate, deal = value("win_rate", recent), value("avg_deal_size", recent)
        in_work = value("leads_in_work", recent)
        remaining = max(plan.target - actual, 0.0)
        per_lead = win_rate / 100.0 * deal
        needed = math.ceil(remaining / per_lead) if per_lead else None
        return {
            "target": plan.target,
            "actual": actual,
            "remaining": remaining,
            "win_rate": win_rate,
            "avg_deal_size": deal,
            "leads_needed": needed,
            "leads_in_work": in_work,
            "enough": needed is not None and in_work >= needed,
            "no_data": needed is None,
            "plan": {
                "date_start": fields.Date.to_string(plan.date_start),
                "date_end": fields.Date.to_string(plan.date_end),
            },
        }

    def get_regulation_before_after(self, weeks=4):
        """Each KPI over the ``weeks`` weeks before the team's regulation went live and the
        weeks after (up to today): [{code, name, before, after, unit, better, improved}]."""
        self.ensure_one()
        self.check_access("read")
        if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= 52:
            raise UserError(self.env._("Compare 1 to 52 weeks before and after."))
        windows = self._kpi_before_after_windows(weeks)
        if not windows:
            return []
        tree = self._kpi_tree()
        figures = self._kpi_figures(
            list(windows), self.env["res.users"], tree, self._kpi_pipeline(tree)
        )
        return self._kpi_before_after_result(windows, weeks, figures)

    def _kpi_before_after_windows(self, weeks):
        """(the weeks before the regulation went live, the weeks after up to today), or
        None when it has not."""
        live = self.regulation_live_date
        if not live:
            return None
        today = fields.Date.context_today(self)
        before = self._kpi_window(live - timedelta(weeks=weeks), live - timedelta(days=1))
        after = self._kpi_window(
            live, max(live, min(live + timedelta(weeks=weeks, days=-1), today))
        )
        return before, after

    def _kpi_before_after_result(self, windows, weeks, figures):
        before, after = windows
        labels = self._kpi_labels()
        result = []
        for code, _label in KPI_CODES:
            if None not in figures.get(code, {}):
                continue
            by_window = figures[code][None]
            old = (by_window.get(before) or Figure(0.0)).value
            new = (by_window.get(after) or Figure(0.0)).value
            lower = code in LOWER_IS_BETTER
            result.append(
                {
                    "code": code,
                    "name": labels[code],
                    "unit": UNITS[code],
                    "before": old,
                    "after": new,
                    "better": "down" if lower else "up",
                    "improved": new < old if lower else new > old,
                    "date_live": fields.Date.to_string(after.date_from),
                    "weeks": weeks,
                }
            )
        return result

    def _kpi_labels(self):
        """{code: the KPI's name in the caller's language} (the plans' selection)."""
        return dict(self.env["crm.kpi.target"]._fields["kpi_code"]._description_selection(self.env))

    # ------------------------------------------------------------
    # API
    # ------------------------------------------------------------

    def get_regulation_kpis(self, date_from, date_to, user_id=False):
        """The KPIs of the team (its sub-teams included) or of its salesperson ``user_id``
        from ``date_from`` to ``date_to`` (dates, both included), computed over the leads the
        caller may read: a list of dicts with ``code``, ``name``, ``value``, ``unit``,
        ``denominator`` (in words), ``base`` (the number it is divided by or counted over),
        ``previous`` (the previous period of the same length), ``better`` (``up``/``down``),
        ``no_data``, ``target`` and ``target_share`` with ``plan`` (when a plan exists), and
        ``details`` (stages, salespeople, activity types)."""
        self.ensure_one()
        self.check_access("read")
        current = self._kpi_window(date_from, date_to)
        tree = self._kpi_tree()
        return self._kpi_report(current, self._kpi_user(user_id, tree), tree=tree)[0]

    def _kpi_report(self, current, user, extra=(), tree=None, previous=None):
        """(the KPI list of ``get_regulation_kpis`` for ``current``, the figures), the
        figures computed for the ``extra`` windows too in the same statements. ``previous``:
        the period compared with (by default the same number of days just before)."""
        previous = previous or self._kpi_window(
            current.date_from - timedelta(days=current.days),
            current.date_from - timedelta(days=1),
        )
        plans = self._kpi_plans(current, user)
        windows = list(dict.fromkeys([current, previous, *(w for _p, w in plans.values()), *extra]))
        tree = tree or self._kpi_tree()
        pipeline = self._kpi_pipeline(tree)
        figures = self._kpi_figures(windows, user, tree, pipeline)
        order = {stage_id: index for index, stage_id in enumerate(pipeline.ids)}
        today = fields.Date.context_today(self)
        labels = self._kpi_labels()
        whys = self._kpi_salesperson_whys(figures, current, previous)
        result = []
        for code, _label in KPI_CODES:
            by_key = figures.get(code, {})
            for key in sorted(by_key, key=lambda key: order.get(key, -1)):
                by_window = by_key[key]
                figure = by_window.get(current) or Figure(0.0)
                before = by_window.get(previous) or Figure(0.0)
                entry = {
                    "code": code,
                    "name": self._kpi_name(code, labels, key, pipeline),
                    "value": figure.value,
                    "unit": UNITS[code],
                    "base": figure.base,
                    "denominator": self._kpi_denominator(code, figure),
                    "previous": before.value,
                    "previous_base": before.base,
                    "better": "down" if code in LOWER_IS_BETTER else "up",
                    "no_data": not figure.value and not figure.base and not figure.details,
                    "details": list(figure.details),
                    "why": whys.get(code, False) if key is None else False,
                    "target": False,
                    "target_share": False,
                }
                if key is not None:
                    entry["key"] = key
                if key is None and code in plans:
                    plan, window = plans[code]
                    actual = by_window.get(window) or Figure(0.0)
                    entry.update(self._kpi_plan_status(code, plan, window, actual, today))
                result.append(entry)
        return result, figures

    @api.model
    def _kpi_salesperson_whys(self, figures, current, previous):
        """{code: the salesperson whose figure moved most against the previous period}:
        {user_id, name, value, previous, change} (a KPI with no change: none)."""
        moves = {}
        for (code, user_id), by_window in figures.get(BY_USER, {}).items():
            now = (by_window.get(current) or Figure(0.0)).value
            before = (by_window.get(previous) or Figure(0.0)).value
            if now != before and abs(now - before) > abs(moves.get(code, (0, 0, 0, 0))[3]):
                moves[code] = (user_id, now, before, round(now - before, 2))
        names = self._kpi_names("res.users", {move[0] for move in moves.values()})
        return {
            code: {
                "user_id": user_id or False,
                "name": names[user_id],
                "value": now,
                "previous": before,
                "change": change,
            }
            for code, (user_id, now, before, change) in moves.items()
        }

    @api.model
    def _kpi_funnel_why(self, kpis):
        """Why the funnel moved: the stage conversion that dropped most against the previous
        period (both periods with leads entering the stage), {name, value, previous, points},
        or False when none dropped."""
        drops = [
            kpi
            for kpi in kpis
            if kpi["code"] == "stage_conversion"
            and kpi["base"]
            and kpi["previous_base"]
            and kpi["value"] < kpi["previous"]
        ]
        if not drops:
            return False
        worst = max(drops, key=lambda kpi: kpi["previous"] - kpi["value"])
        return {
            "name": worst["name"],
            "key": worst["key"],
            "value": worst["value"],
            "previous": worst["previous"],
            "points": round(worst["previous"] - worst["value"], 1),
        }

    # ------------------------------------------------------------
    # Inputs
    # ------------------------------------------------------------

    @api.model
    def _kpi_window(self, date_from, date_to):
        try:
            first, last = fields.Date.to_date(date_from), fields.Date.to_date(date_to)
        except (TypeError, ValueError) as error:
            raise UserError(self.env._("A period is given by two dates (%s).", error)) from None
        if not first or not last:
            raise UserError(self.env._("A period needs its first and last day."))
        if last < first:
            raise UserError(
                self.env._(
                    "The period ends (%(to)s) before it starts (%(from)s).",
                    to=last,
                    **{"from": first},
                )
            )
        if not (FIRST_DAY <= first and last <= LAST_DAY):
            raise UserError(
                self.env._(
                    "A period lies between %(first)s and %(last)s.", first=FIRST_DAY, last=LAST_DAY
                )
            )
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise UserError(
                self.env._(
                    "A period of at most two years is computed (%s days asked).",
                    (last - first).days + 1,
                )
            )
        try:
            tz = pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")
        except pytz.UnknownTimeZoneError:
            tz = pytz.utc

        def bound(day):
            return (
                tz.localize(datetime.combine(day, time.min))
                .astimezone(pytz.utc)
                .replace(tzinfo=None)
            )

        return Window(first, last, bound(first), bound(last + timedelta(days=1)))

    def _kpi_tree(self):
        """The team and its sub-teams (archived ones too: their leads count)."""
        return self.with_context(active_test=False).search([("id", "child_of", self.id)])

    def _kpi_user(self, user_id, tree):
        if not user_id:
            return self.env["res.users"]
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise UserError(self.env._("A salesperson is given by their id."))
        # sudo: the memberships of the team and its sub-teams, whoever asks (the figures stay
        # under their rights)
        members = tree.sudo().member_ids | tree.sudo().user_id
        user = self.env["res.users"].browse(user_id).exists()
        if not user or user not in members:
            raise UserError(
                self.env._("This salesperson is not a member of the team %s.", self.name)
            )
        return user

    def _kpi_plans(self, window, user):
        """{kpi code: Window} of the plans of the team (or the salesperson) whose period holds
        the period's last day, the closest to the period asked, from their first day to the
        period's last day (the actual to date)."""
        Target = self.env["crm.kpi.target"]
        if not Target.has_access("read"):
            return {}
        plans = Target.search(
            [
                ("team_id", "=", self.id),
                ("user_id", "=", user.id or False),
                ("date_start", "<=", window.date_to),
                ("date_end", ">=", window.date_to),
            ]
        )
        best = {}
        for plan in plans:
            distance = abs((plan.date_start - window.date_from).days) + abs(
                (plan.date_end - window.date_to).days
            )
            if plan.kpi_code not in best or distance < best[plan.kpi_code][0]:
                best[plan.kpi_code] = (distance, plan)
        return {
            code: (plan, self._kpi_window(plan.date_start, window.date_to))
            for code, (_distance, plan) in best.items()
        }

    # ------------------------------------------------------------
    # Figures (set-based SQL)
    # ------------------------------------------------------------

    def _kpi_figures(self, windows, user, tree, pipeline, only=None):
        """{code: {key: {Window: Figure}}} of every KPI over ``windows`` (``only``: the
        families of figures named, e.g. ``{"closed", "in_work"}``)."""
        domain = [("team_id", "in", tree.ids)] + ([("user_id", "=", user.id)] if user else [])
        Lead = self.env["crm.lead"].with_context(active_test=False)
        leads = Lead._search(domain).subselect()
        # sudo: only compared, never run: without a record rule narrowing them (a sales
        # administrator), the caller's leads are the domain's, and the statements need no
        # subselect of the rights
        unrestricted = leads == Lead.sudo()._search(domain).subselect()
        bounds = SQL(
            "unnest(%s::timestamp[], %s::timestamp[]) WITH ORDINALITY AS w(start, stop, n)",
            [window.start for window in windows],
            [window.stop for window in windows],
        )
        # the team (and salesperson) in the statements themselves too: the planner then reads
        # the team's leads by index instead of probing the rights' subselect for every lead
        scope = SQL("l.team_id = ANY(%s)", tree.ids)
        if user:
            scope = SQL("%s AND l.user_id = %s", scope, user.id)
        lead_filter = scope if unrestricted else SQL("%s AND l.id IN %s", scope, leads)
        ctx = KpiContext(windows, lead_filter, leads, bounds, tree, user, pipeline)
        figures = defaultdict(lambda: defaultdict(dict))
        with jit_off(self.env.cr):
            self._kpi_compute(ctx, figures, only)
        # every KPI is there, with "no data" when nothing was counted: one per stage of the
        # pipeline (the won stage has no conversion)
        for code, _label in KPI_CODES:
            if code == "stage_conversion":
                keys = [stage.id for stage in pipeline if not stage.is_won]
            elif code == "stage_hours_median":
                keys = pipeline.ids
            else:
                keys = [None]
            for key in keys:
                figures[code].setdefault(key, {})
        if not self.env["crm.lead"]._has_field_access(
            self.env["crm.lead"]._fields["expected_revenue"], "read"
        ):
            for code in REVENUE_KPIS:
                figures.pop(code, None)
            figures[BY_USER] = {
                key: value for key, value in figures[BY_USER].items() if key[0] not in REVENUE_KPIS
            }
        if not self.env["crm.lead.stage.history"].has_access("read"):
            for code in STAY_KPIS:
                figures.pop(code, None)
        if not self._kpi_contact_access():
            for code in CONTACT_KPIS:
                figures.pop(code, None)
        if not self.env["crm.regulation.violation"].has_access("read"):
            figures.pop("regulation_bypasses", None)
        return figures

    def _kpi_compute(self, ctx, figures, only=None):
        """Every family of figures into ``figures`` ({code: {key: {Window: Figure}}}); the
        figures of the stays for those who may read the stage history."""
        families = [self._kpi_new_leads, self._kpi_closed, self._kpi_in_work]
        if self.env["crm.lead.stage.history"].has_access("read"):
            families.append(self._kpi_stages)
        families += [self._kpi_activities, self._kpi_stale, self._kpi_bypasses, self._kpi_revival]
        if self._kpi_contact_access():
            families.append(self._kpi_data_quality)
        for family in families:
            if only and family.__name__.removeprefix("_kpi_") not in only:
                continue
            for code, key, n, figure in family(ctx):
                if isinstance(key, tuple):  # ("user", id): the salesperson's own figure
                    figures[BY_USER][code, key[1]][ctx.windows[n - 1]] = figure
                else:
                    figures[code][key][ctx.windows[n - 1]] = figure

    def _kpi_new_leads(self, ctx):
        """New leads (by creation), qualified, disqualified, first contact speed."""
        rows = self.env.execute_query(
            SQL(
                """
                WITH ts AS (%(ts)s)
                SELECT w.n, GROUPING(l.user_id) = 0, l.user_id,
                       count(*), count(*) FILTER (WHERE %(qualified)s),
                       count(*) FILTER (WHERE l.outcome = 'disqualified'),
                       count(l.first_contact_hours),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.first_contact_hours)
                  FROM crm_lead l
                  JOIN %(bounds)s ON l.create_date >= w.start AND l.create_date < w.stop
                 WHERE %(lead_filter)s AND l.create_date >= %(span)s
                       AND l.create_date < %(stop)s
              GROUP BY GROUPING SETS ((w.n), (w.n, l.user_id))
                """,
                ts=team_stages(ctx.tree.ids),
                qualified=qualified("l"),
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                span=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, per_user, user_id, total, qualified_count, disqualified, contacted, median in rows:
            key = ("user", user_id) if per_user else None
            yield "new_leads", key, n, Figure(total)
            yield "qualification_rate", key, n, _rate(qualified_count, total)
            yield "disqualification_rate", key, n, _rate(disqualified, total)
            yield "first_contact_hours_median", key, n, _median(median, contacted)

    def _kpi_contact_access(self):
        """Whether the caller reads the leads' phones and e-mails (the data quality)."""
        Lead = self.env["crm.lead"]
        return all(
            Lead._has_field_access(Lead._fields[fname], "read") for fname in ("phone", "email_from")
        )

    def _kpi_data_quality(self, ctx):
        """Leads created in the period with good data: the fields required at their stage
        filled, no invalid phone or e-mail, not a duplicate of an older open lead
        (``data_quality_sql``; the quality of each lead computed once, then counted in
        each window)."""
        rows = self.env.execute_query(
            SQL(
                """
                WITH q AS (
                    SELECT l.id, l.user_id, l.create_date, %(quality)s
                      FROM crm_lead l
                     WHERE %(lead_filter)s AND l.create_date >= %(span)s
                           AND l.create_date < %(stop)s
                )
                SELECT w.n, GROUPING(q.user_id) = 0, q.user_id,
                       count(*), count(*) FILTER (WHERE %(ok)s)
                  FROM q
                  JOIN %(bounds)s ON q.create_date >= w.start AND q.create_date < w.stop
              GROUP BY GROUPING SETS ((w.n), (w.n, q.user_id))
                """,
                quality=lead_quality(self.env, "l"),
                ok=quality_ok("q"),
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                span=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, per_user, user_id, total, good in rows:
            key = ("user", user_id) if per_user else None
            yield "data_quality", key, n, _rate(good, total)

    def _kpi_closed(self, ctx):
        """Won, lost and disqualified leads by the day they were closed."""
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, GROUPING(l.user_id) = 0, l.user_id,
                       count(*) FILTER (WHERE l.outcome = 'won'),
                       count(*) FILTER (WHERE l.outcome = 'lost'),
                       COALESCE(sum(l.expected_revenue) FILTER (WHERE l.outcome = 'won'), 0),
                       percentile_cont(0.5) WITHIN GROUP (
                           ORDER BY EXTRACT(EPOCH FROM l.date_closed - l.create_date) / 86400.0)
                           FILTER (WHERE l.outcome = 'won')
                  FROM crm_lead l
                  JOIN %(bounds)s ON l.date_closed >= w.start AND l.date_closed < w.stop
                 WHERE %(lead_filter)s AND l.outcome IN ('won', 'lost')
                       AND l.date_closed >= %(start)s AND l.date_closed < %(stop)s
              GROUP BY GROUPING SETS ((w.n), (w.n, l.user_id))
                """,
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                start=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, per_user, user_id, won, lost, revenue, cycle in rows:
            key = ("user", user_id) if per_user else None
            yield "win_rate", key, n, _rate(won, won + lost)
            yield "loss_rate", key, n, _rate(lost, won + lost)
            yield "revenue_won", key, n, Figure(round(revenue, 2), won)
            yield "avg_deal_size", key, n, Figure(round(revenue / won, 2) if won else 0.0, won)
            yield "cycle_days_median", key, n, _median(cycle, won)

    def _kpi_stages(self, ctx):
        """Per stage of the team's pipeline, the leads that first entered it in the period:
        how many went on (and how the others dropped), their time in it, SLA breaches."""
        rows = self.env.execute_query(
            SQL(
                """
                WITH ts AS (%(ts)s),
                entry AS (%(entries)s)
                SELECT w.n, e.stage_id,
                       count(*) FILTER (WHERE o.counted),
                       count(*) FILTER (WHERE o.counted AND o.went_on),
                       count(*) FILTER (WHERE o.counted AND o.dropped = 'lost'),
                       count(*) FILTER (WHERE o.counted AND o.dropped = 'disqualified'),
                       count(e.hours),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.hours),
                       count(*) FILTER (WHERE e.breached), count(*) FILTER (WHERE e.with_sla),
                       bool_or(s.is_won)
                  FROM entry e
                  JOIN crm_lead l ON l.id = e.lead_id
                  JOIN ts s ON s.team_key = COALESCE(l.team_id, 0) AND s.stage_id = e.stage_id
                  JOIN %(bounds)s ON e.date_in >= w.start AND e.date_in < w.stop
                 CROSS JOIN LATERAL (%(outcome)s) o
              GROUP BY w.n, e.stage_id
                """,
                ts=team_stages(ctx.tree.ids),
                entries=stage_entries(
                    SQL(
                        "h.lead_id IN %s AND h.date_in >= %s AND h.date_in < %s",
                        ctx.leads,
                        ctx.first_start,
                        ctx.last_stop,
                    )
                ),
                bounds=ctx.bounds,
                outcome=stage_outcome("l", "s", "e"),
            )
        )
        breaches = defaultdict(lambda: [0, 0])
        for (
            n,
            stage_id,
            entered,
            went_on,
            lost,
            disqualified,
            timed,
            hours,
            breached,
            with_sla,
            won,
        ) in rows:
            breaches[n][0] += breached
            breaches[n][1] += with_sla
            if stage_id not in ctx.pipeline.ids:
                continue
            yield "stage_hours_median", stage_id, n, _median(hours, timed)
            if won:
                continue
            figure = _rate(went_on, entered)
            drop = {
                "lost": lost,
                "disqualified": disqualified,
                "still_there": entered - went_on - lost - disqualified,
            }
            yield (
                "stage_conversion",
                stage_id,
                n,
                figure._replace(details=({"entered": entered, "went_on": went_on, **drop},)),
            )
        for n, (breached, with_sla) in breaches.items():
            yield "sla_breached", None, n, Figure(breached, with_sla)

    def _kpi_in_work(self, ctx):
        """Open leads at the end of each period, per salesperson: created before it and not
        closed (won, lost, disqualified) by then; archived open leads are not in work."""
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, l.user_id, count(*)
                  FROM crm_lead l
                  JOIN %(bounds)s ON l.create_date < w.stop
                                 AND (l.date_closed >= w.stop
                                      OR (l.outcome = 'open' AND l.active))
                 WHERE %(lead_filter)s AND l.create_date < %(stop)s
                   AND (l.date_closed >= %(start)s OR (l.outcome = 'open' AND l.active))
              GROUP BY w.n, l.user_id
                """,
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                start=ctx.first_stop,
                stop=ctx.last_stop,
            )
        )
        for n, details in self._kpi_breakdown(rows, "res.users").items():
            yield "leads_in_work", None, n, Figure(sum(d["value"] for d in details), None, details)

    def _kpi_activities(self, ctx):
        """Activities done on the leads (the messages they leave), per type."""
        author = SQL("AND m.author_id = %s", ctx.user.partner_id.id) if ctx.user else SQL()
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, m.mail_activity_type_id, count(*)
                  FROM mail_message m
                  JOIN %(bounds)s ON m.date >= w.start AND m.date < w.stop
                 WHERE m.model = 'crm.lead' AND m.mail_activity_type_id IS NOT NULL
                   AND m.res_id IN %(leads)s %(author)s
                   AND m.date >= %(start)s AND m.date < %(stop)s
              GROUP BY w.n, m.mail_activity_type_id
                """,
                bounds=ctx.bounds,
                leads=ctx.leads,
                author=author,
                start=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, details in self._kpi_breakdown(rows, "mail.activity.type").items():
            yield (
                "activities_done",
                None,
                n,
                Figure(sum(d["value"] for d in details), None, details),
            )

    def _kpi_stale(self, ctx):
        """Open leads flagged stale in the period and still stale."""
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, count(*)
                  FROM crm_lead l
                  JOIN %(bounds)s ON l.stale_date >= w.start AND l.stale_date < w.stop
                 WHERE %(lead_filter)s AND l.active AND l.outcome = 'open'
                   AND l.stale_date >= %(start)s AND l.stale_date < %(stop)s
              GROUP BY w.n
                """,
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                start=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, count in rows:
            yield "stale_leads", None, n, Figure(count)

    def _kpi_bypasses(self, ctx):
        """Regulation bypasses of the compliance log (by those who may read it)."""
        Violation = self.env["crm.regulation.violation"]
        if not Violation.has_access("read"):
            return
        domain = [("team_id", "in", ctx.tree.ids), ("outcome", "=", "bypassed")]
        if ctx.user:
            domain.append(("user_id", "=", ctx.user.id))
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, count(*)
                  FROM crm_regulation_violation v
                  JOIN %(bounds)s ON v.date >= w.start AND v.date < w.stop
                 WHERE v.id IN %(rows)s AND v.date >= %(start)s AND v.date < %(stop)s
              GROUP BY w.n
                """,
                bounds=ctx.bounds,
                rows=Violation._search(domain).subselect(),
                start=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, count in rows:
            yield "regulation_bypasses", None, n, Figure(count)

    def _kpi_revival(self, ctx):
        """Leads back to work from a revival program (by the day they were revived), and
        revived leads won (by the day they were won, after their revival)."""
        if not self.env["crm.revival.enrollment"].has_access("read"):
            return
        rows = self.env.execute_query(
            SQL(
                """
                SELECT w.n, GROUPING(l.user_id) = 0, l.user_id,
                       count(*) FILTER (WHERE e.date_revived >= w.start
                                          AND e.date_revived < w.stop),
                       count(DISTINCT l.id) FILTER (WHERE l.outcome = 'won'
                                          AND l.date_closed >= w.start
                                          AND l.date_closed < w.stop
                                          AND l.date_closed >= e.date_revived)
                  FROM crm_revival_enrollment e
                  JOIN crm_lead l ON l.id = e.lead_id
                  JOIN %(bounds)s ON (e.date_revived >= w.start AND e.date_revived < w.stop)
                                  OR (l.outcome = 'won' AND l.date_closed >= w.start
                                      AND l.date_closed < w.stop)
                 WHERE e.state = 'revived' AND %(lead_filter)s
                   AND e.date_revived < %(stop)s
                   AND (e.date_revived >= %(start)s OR l.date_closed >= %(start)s)
              GROUP BY GROUPING SETS ((w.n), (w.n, l.user_id))
                """,
                bounds=ctx.bounds,
                lead_filter=ctx.lead_filter,
                start=ctx.first_start,
                stop=ctx.last_stop,
            )
        )
        for n, per_user, user_id, revived, won in rows:
            key = ("user", user_id) if per_user else None
            yield "revived", key, n, Figure(revived)
            yield "revived_won", key, n, Figure(won, revived)

    # ------------------------------------------------------------
    # Presentation
    # ------------------------------------------------------------

    def _kpi_pipeline(self, tree):
        """The stages of the pipeline of the team and its sub-teams ``tree``, in the order
        of their ranks in SQL (kpi_sql.team_stages: sequence, then id)."""
        return self.env["crm.stage"].search(
            ["|", ("team_ids", "=", False), ("team_ids", "in", tree.ids)], order="sequence, id"
        )

    def _kpi_names(self, model, ids):
        """{id: display name} of the ``model`` records ``ids`` (None: "Unassigned")."""
        # sudo: the names of the salespeople and activity types the caller's figures count
        records = self.env[model].sudo().browse(record_id for record_id in ids if record_id)
        names = {record.id: record.display_name for record in records}
        return {record_id: names.get(record_id) or self.env._("Unassigned") for record_id in ids}

    def _kpi_breakdown(self, rows, model):
        """{window n: [{id, name, value}]} of ``rows`` (n, record id, count)."""
        names = self._kpi_names(model, {row[1] for row in rows})
        result = defaultdict(list)
        for n, record_id, count in rows:
            result[n].append(
                {
                    "id": record_id or False,
                    "name": names[record_id],
                    "value": count,
                }
            )
        return result

    def _kpi_name(self, code, labels, key, pipeline):
        name = labels[code]
        if key is None:
            return name
        stage = self.env["crm.stage"].browse(key)
        if code == "stage_conversion":
            following = pipeline[pipeline.ids.index(key) + 1 :][:1]
            return f"{name}: {stage.name} → {following.name or self.env._('Won')}"
        return f"{name}: {stage.name}"

    def _kpi_denominator(self, code, figure):
        """What the figure is divided by or counted over, in words."""
        base = figure.base or 0
        texts = {
            "new_leads": lambda: self.env._("leads created in the period"),
            "first_contact_hours_median": lambda: self.env._(
                "median over %s new leads contacted (business hours from creation)", base
            ),
            "qualification_rate": lambda: self.env._(
                "of %s leads created in the period, disqualified ones included", base
            ),
            "disqualification_rate": lambda: self.env._("of %s leads created in the period", base),
            "loss_rate": lambda: self.env._(
                "of %s leads won or lost in the period (disqualified excluded)", base
            ),
            "win_rate": lambda: self.env._(
                "of %s leads won or lost in the period (disqualified excluded)", base
            ),
            "stage_conversion": lambda: self.env._(
                "of %s leads that first entered the stage in the period (past the "
                "qualification stage, disqualified leads excluded)",
                base,
            ),
            "stage_hours_median": lambda: self.env._(
                "median over %s finished stays that began in the period (business hours)", base
            ),
            "cycle_days_median": lambda: self.env._(
                "median over %s leads won in the period (days from creation)", base
            ),
            "revenue_won": lambda: self.env._(
                "expected revenue of %s leads won in the period", base
            ),
            "avg_deal_size": lambda: self.env._("revenue won ÷ %s leads won in the period", base),
            "leads_in_work": lambda: self.env._(
                "leads open at the end of the period (created before it, not won, lost or "
                "disqualified by then)"
            ),
            "activities_done": lambda: self.env._("activities marked done in the period"),
            "sla_breached": lambda: self.env._(
                "first stays in a stage past their SLA, of %s with an SLA that began in the period",
                base,
            ),
            "stale_leads": lambda: self.env._(
                "open leads flagged stale in the period, still stale"
            ),
            "regulation_bypasses": lambda: self.env._("moves let through by a bypass group"),
            "revived": lambda: self.env._(
                "leads back to work from a revival program in the period (a reply, a new "
                "lead of the same customer, or by hand)"
            ),
            "revived_won": lambda: self.env._(
                "revived leads won in the period, of %s revived in it", base
            ),
            "data_quality": lambda: self.env._(
                "of %s leads created in the period: the fields required at their stage "
                "filled, no invalid phone or e-mail, not a duplicate of an older open lead",
                base,
            ),
        }
        text = texts[code]()
        if not figure.value and not figure.base and not figure.details:
            return self.env._("no data: %s", text)
        return text

    def _kpi_plan_status(self, code, plan, window, figure, today):
        """Plan vs actual: the target, the share reached to date, the share of the plan's
        period elapsed, and whether it is on track, at risk or behind (``no_data``: a rate
        or a median of nothing yet)."""
        actual = figure.value
        target = plan.target
        days = (plan.date_end - plan.date_start).days + 1
        elapsed = min(max((min(today, window.date_to) - plan.date_start).days + 1, 0), days)
        elapsed_share = elapsed / days
        share = actual / target if target else 0.0
        # where "on track" begins: the share of the period elapsed of a running total, the
        # target itself of a rate or a median
        expected = target * elapsed_share if code in CUMULATIVE else target
        if code in LOWER_IS_BETTER:
            on_track = actual <= expected
            at_risk = actual <= (target if code in CUMULATIVE else target / AT_RISK)
        else:
            on_track, at_risk = actual >= expected, actual >= AT_RISK * expected
        status = "on_track" if on_track else "at_risk" if at_risk else "behind"
        if code not in CUMULATIVE and not figure.base and not figure.details:
            status = "no_data"
        return {
            "target": target,
            "target_share": round(share, 4),
            "plan": {
                "id": plan.id,
                "period": plan.period,
                "date_start": fields.Date.to_string(plan.date_start),
                "date_end": fields.Date.to_string(plan.date_end),
                "actual": actual,
                "elapsed_share": round(elapsed_share, 4),
                "status": status,
            },
        }


class KpiContext(NamedTuple):
    """What every family of figures is computed over."""

    windows: list
    lead_filter: SQL  # condition on crm_lead ``l``: the leads counted
    leads: SQL  # subselect of the leads counted (the caller's rights applied)
    bounds: SQL  # the windows as rows w(start, stop, n)
    tree: models.Model  # the team and its sub-teams
    user: models.Model  # the salesperson, or nobody
    pipeline: models.Model  # the stages of the team's pipeline, in order

    @property
    def first_start(self):
        return min(window.start for window in self.windows)

    @property
    def first_stop(self):
        return min(window.stop for window in self.windows)

    @property
    def last_stop(self):
        return max(window.stop for window in self.windows)
