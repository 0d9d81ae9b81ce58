from typing import NamedTuple

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# Fields whose change can start or end a stay in a stage. A probability set to 0 matters
# too: an archived lead becomes lost that way (crm.lead.action_set_lost archives first).
# The stage history itself is kept by crm.lead.stage.history._sync_leads().
STAY_FIELDS = frozenset({"stage_id", "active"})
# Fields whose change can be a regulated transition (enter a stage, be won, be lost).
TRANSITION_FIELDS = frozenset({"stage_id", "active", "probability"})
# A refusal names at most this many leads (the count of the others follows).
MAX_LEADS_IN_ERROR = 200
# Cursor-level (never client-controlled) set of the leads action_set_lost is losing.
LOSING_KEY = "crm_regulation.losing"


# Values of a lead read from the ORM cache after a create/write, shared by the regulation
# and the stage history (one pass over the batch).
STATE_FIELDS = ("stage_id", "active", "probability", "team_id", "user_id", "company_id")


class Transition(NamedTuple):
    """What a create/write did to one lead, as the regulation sees it."""

    lead_id: int
    team_id: int
    from_stage_id: int  # 0: a new lead
    to_stage_id: int
    entered: bool  # the lead (active) enters ``to_stage_id``
    move: bool  # ... coming from another stage of the funnel
    won: bool
    lost: bool


class Requirement(NamedTuple):
    """One requirement of the regulation for one transition, met or not."""

    text: str  # what must hold (checklist)
    missing: str  # what is wrong when it does not (refusal, warning)
    met: bool
    severity: str  # block | warn
    rule_id: int  # 0: a stage shortcut
    bypassed: bool = False


class _Names:
    """Display names read once per call (in the user's language)."""

    def __init__(self, env):
        self.env = env
        self.cache = {}

    def get(self, model, record_id):
        if (model, record_id) not in self.cache:
            self.cache[model, record_id] = self.env[model].sudo().browse(record_id).display_name
        return self.cache[model, record_id]

    def stage(self, stage_id):
        return self.get("crm.stage", stage_id)

    def prefetch(self, model, record_ids):
        if record_ids:
            records = self.env[model].sudo().browse(record_ids)
            self.cache.update(((model, record.id), record.display_name) for record in records)


class _Context:
    """What one evaluation of the regulation shares: names, field caches, texts."""

    def __init__(self, env, caches, unmet_only):
        self.env = env
        self.names = _Names(env)
        self.caches = caches
        self.unmet_only = unmet_only
        self.field_texts = {}

    def check_field(self, items, lead_id, fname, severity, rule_id=0, bypassed=False):
        """A required field: set means not empty, not zero (x2many: not empty)."""
        met = bool(self.caches[fname][lead_id])
        if met and self.unmet_only:
            return
        if fname not in self.field_texts:
            label = self.env["crm.lead"]._fields[fname]._description_string(self.env)
            self.field_texts[fname] = (
                self.env._("“%s” is filled in", label),
                self.env._("“%s” is empty", label),
            )
        text, missing = self.field_texts[fname]
        items.append(Requirement(text, missing, met, severity, rule_id, bypassed and not met))


class CrmLead(models.Model):
    _inherit = "crm.lead"

    stage_history_ids = fields.One2many("crm.lead.stage.history", "lead_id", readonly=True)
    stage_history_count = fields.Integer(compute="_compute_stage_history_count")
    # won criteria: rules targeting "won" usually require these
    contract_signed = fields.Boolean(tracking=True, copy=False)
    contract_date = fields.Date(tracking=True, copy=False)
    first_payment_date = fields.Date(tracking=True, copy=False)
    regulation_next_stage_id = fields.Many2one(
        "crm.stage", string="Next Stage", compute="_compute_regulation_checklist"
    )
    regulation_checklist = fields.Html(compute="_compute_regulation_checklist", sanitize=False)
    regulation_bypass_count = fields.Integer(
        string="Regulation Bypasses", compute="_compute_regulation_bypass_count"
    )
    regulation_bypassed = fields.Boolean(
        compute="_compute_regulation_bypass_count",
        search="_search_regulation_bypassed",
    )

    def _compute_stage_history_count(self):
        counts = dict(
            self.env["crm.lead.stage.history"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.stage_history_count = counts.get(lead, 0)

    def _compute_regulation_bypass_count(self):
        subtype = self.env.ref("crm_regulation.mt_regulation_bypass")
        counts = dict(
            self.env["mail.message"]
            .sudo()
            ._read_group(
                [
                    ("model", "=", "crm.lead"),
                    ("res_id", "in", self.ids),
                    ("subtype_id", "=", subtype.id),
                ],
                ["res_id"],
                ["__count"],
            )
        )
        for lead in self:
            lead.regulation_bypass_count = counts.get(lead.id, 0)
            lead.regulation_bypassed = bool(lead.regulation_bypass_count)

    def _search_regulation_bypassed(self, operator, value):
        if operator not in ("in", "not in"):
            return NotImplemented
        subtype = self.env.ref("crm_regulation.mt_regulation_bypass")
        lead_ids = (
            self.env["mail.message"]
            .sudo()
            ._search([("model", "=", "crm.lead"), ("subtype_id", "=", subtype.id)])
            .subselect("res_id")
        )
        positive = (True in value) == (operator == "in")
        return [("id", "in" if positive else "not in", lead_ids)]

    @api.depends_context("uid", "lang")
    @api.depends("stage_id", "team_id", "active")
    def _compute_regulation_checklist(self):
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        transitions = []
        pipelines = {}
        for lead in self:
            next_stage = 0
            # saved leads only: a lead being created has no activities or history yet
            if lead.active and lead.stage_id and isinstance(lead.id, int):
                team_id = lead.team_id.id
                if team_id not in pipelines:
                    pipelines[team_id] = regulation.pipeline(team_id)
                pipeline = pipelines[team_id]
                if lead.stage_id.id in pipeline:
                    index = pipeline.index(lead.stage_id.id)
                    next_stage = pipeline[index + 1] if index + 1 < len(pipeline) else 0
            lead.regulation_next_stage_id = next_stage
            if next_stage:
                stage = regulation.stages[next_stage]
                transitions.append(
                    Transition(
                        lead.id,
                        lead.team_id.id,
                        lead.stage_id.id,
                        next_stage,
                        True,
                        True,
                        stage.is_won,
                        False,
                    )
                )
        saved = self.browse([t.lead_id for t in transitions])
        requirements = (
            saved._regulation_requirements(transitions, regulation) if transitions else {}
        )
        for lead in self:
            items = requirements.get(lead.id)
            guidance = lead.regulation_next_stage_id.requirements
            if not items and not guidance:
                lead.regulation_checklist = False
                continue
            lead.regulation_checklist = self._regulation_render_checklist(
                lead.regulation_next_stage_id, items or [], guidance
            )

    @api.model
    def _regulation_render_checklist(self, stage, items, guidance):
        lines = Markup().join(
            Markup('<li><i class="fa fa-fw %s" role="img" aria-label="%s" title="%s"></i> %s</li>')
            % (
                "fa-check text-success"
                if item.met
                else "fa-exclamation-triangle text-warning"
                if item.severity == "warn" or item.bypassed
                else "fa-times text-danger",
                self.env._("Done") if item.met else self.env._("Missing"),
                self.env._("Done") if item.met else self.env._("Missing"),
                item.text,
            )
            for item in items
        )
        html = Markup('<div class="o_crm_regulation_checklist"><strong>%s</strong>') % (
            self.env._("To move to “%s”:", stage.name)
        )
        if lines:
            html += Markup('<ul class="list-unstyled mb-1">%s</ul>') % lines
        else:
            html += Markup('<p class="mb-1">%s</p>') % self.env._("Nothing is required.")
        if guidance:
            html += Markup('<p class="text-muted mb-0">%s</p>') % guidance
        return html + Markup("</div>")

    # ------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        rows = leads._regulation_cache_values(STATE_FIELDS)
        transitions = (
            leads._regulation_transitions({}, rows, regulation) if regulation.enabled else []
        )
        # A lead created with a given stage (import, RPC, a form opened in a column) is judged
        # like a move into it. One that gets its team's first stage by default (web form,
        # mail gateway, lead generation) is not refused for lacking what that stage asks: the
        # checklist shows it. Its entry tasks are scheduled either way.
        explicit = {
            lead.id for lead, vals in zip(leads, vals_list, strict=True) if vals.get("stage_id")
        }
        checked = [t for t in transitions if t.lead_id in explicit or t.lost]
        if checked:
            leads._regulation_enforce(checked, regulation)
        self.env["crm.lead.stage.history"]._sync_leads(leads, date_in_from_lead=True, rows=rows)
        if transitions:
            leads._regulation_schedule_entry_activities(transitions, regulation)
        return leads

    def write(self, vals):
        regulation = before = None
        if TRANSITION_FIELDS.intersection(vals):
            regulation = self.env["crm.regulation.rule"]._get_regulation()
            if regulation.enabled:
                # the state before the write (crm's write reads the same fields: cached)
                before = {
                    lead_id: (stage_id or 0, active, not active and probability == 0)
                    for lead_id, stage_id, active, probability in self._regulation_cache_values(
                        ("stage_id", "active", "probability")
                    )
                }
        result = super().write(vals)
        became_lost = vals.get("probability", 1) == 0
        sync = became_lost or STAY_FIELDS.intersection(vals)
        rows = self._regulation_cache_values(STATE_FIELDS) if before or sync else None
        transitions = (
            self._regulation_transitions(before, rows, regulation, "probability" in vals)
            if before
            else []
        )
        if transitions:
            # after the write, so that values written with the move count (e.g. a mass
            # edit of the stage and a required field): a refusal rolls the write back
            self._regulation_enforce(transitions, regulation)
        if sync:
            self.env["crm.lead.stage.history"]._sync_leads(self, became_lost=became_lost, rows=rows)
        if transitions:
            self._regulation_schedule_entry_activities(transitions, regulation)
        return result

    def _regulation_field_caches(self, fnames):
        """{field name: {id: cache value}} for ``self``: pending computations done, missing
        values fetched the way a field access does (prefetchable columns at once). Reading
        the ORM cache directly spares a record object per lead and per value."""
        env = self.env
        caches = {}
        for fname in fnames:
            field = self._fields[fname]
            if field.compute and field.store:
                field.recompute(self)
            if next(field._cache_missing_ids(self), None) is not None:
                self._fetch_field(field)
            caches[fname] = field._get_cache(env)
        return caches

    def _regulation_cache_values(self, fnames):
        """[(id, value, ...)] of ``fnames`` for ``self`` (ids or None for many2one)."""
        caches = list(self._regulation_field_caches(fnames).values())
        return [(record_id, *(cache[record_id] for cache in caches)) for record_id in self._ids]

    # ------------------------------------------------------------
    # REGULATION (one place for every path: form, kanban, list, import, RPC, won, lost,
    # restore, automation; all leads of a batch at once)
    # ------------------------------------------------------------

    def _regulation_transitions(self, before, rows, regulation, sets_probability=True):
        """The regulated transitions given the state ``before`` a write ({id: (stage_id,
        active, lost)}; empty for new leads) and the ``rows`` of STATE_FIELDS after it."""
        transitions = []
        stages = regulation.stages
        # leads being lost by action_set_lost: it archives them first (a lead already at 0%
        # is then lost in crm's terms), then writes the reason and the probability. The
        # rules targeting "lost" judge the second write, which carries the reason.
        losing = self.env.cr.cache.get(LOSING_KEY, ())
        for lead_id, new_stage, active, probability, team_id, _user, _company in rows:
            old_stage, old_active, old_lost = before.get(lead_id, (0, False, False))
            if lead_id in losing:
                if not sets_probability:
                    continue
                old_lost = False
            lost = not active and probability == 0 and not old_lost
            entered = bool(active and new_stage and (not old_active or old_stage != new_stage))
            if not (entered or lost):
                continue
            old_won = bool(old_active and old_stage and stages[old_stage].is_won)
            transitions.append(
                Transition(
                    lead_id,
                    team_id or 0,
                    old_stage,
                    new_stage or 0,
                    entered,
                    entered and old_active and bool(old_stage),
                    entered and stages[new_stage].is_won and not old_won,
                    lost,
                )
            )
        return transitions

    def _regulation_enforce(self, transitions, regulation):
        """Refuse the batch in one error naming every lead and every unmet blocking
        requirement, or log its warnings and bypasses on the leads."""
        requirements = self._regulation_requirements(transitions, regulation, unmet_only=True)
        blocked, warnings, bypasses = {}, {}, {}
        for lead_id, items in requirements.items():
            for item in items:
                if item.bypassed:
                    bypasses.setdefault(lead_id, []).append(item)
                elif item.severity == "warn":
                    warnings.setdefault(lead_id, []).append(item)
                else:
                    blocked.setdefault(lead_id, []).append(item)
        by_id = {transition.lead_id: transition for transition in transitions}
        if blocked:
            raise UserError(self._regulation_error_message(blocked, by_id))
        if warnings or bypasses:
            self._regulation_log(warnings, bypasses, by_id)

    def _regulation_requirements(self, transitions, regulation, unmet_only=False):
        """{lead id: [Requirement]} for ``transitions``: the stage shortcuts and the rules
        that apply, each requirement met or not (only the unmet ones with ``unmet_only``).
        Queries: none for fields, domains and stages (ORM cache, in-memory domains), one
        for done activities if a rule needs them, whatever the number of leads."""
        result = {transition.lead_id: [] for transition in transitions}
        applying = self._regulation_applying_rules(transitions, regulation)
        opened = {
            (transition.lead_id, transition.to_stage_id)
            for rule, candidates in applying
            if rule.opens_move
            for transition in candidates
        }
        fnames = {
            fname
            for transition in transitions
            if transition.entered
            for fname in regulation.stages[transition.to_stage_id].field_names
        }
        fnames.update(fname for rule, _c in applying for fname in rule.field_names)
        context = _Context(self.env, self.sudo()._regulation_field_caches(fnames), unmet_only)
        self._regulation_stage_requirements(transitions, regulation, opened, context, result)
        self._regulation_rule_requirements(applying, context, result)
        return result

    def _regulation_applying_rules(self, transitions, regulation):
        """[(rule, transitions)]: the rules that apply to each transition by target, team
        and origin (transitions indexed by target first), then by condition (one in-memory
        filter per rule, over its candidates only)."""
        by_target = {}
        for transition in transitions:
            if transition.entered:
                by_target.setdefault(("stage", transition.to_stage_id), []).append(transition)
            if transition.won:
                by_target.setdefault(("won", 0), []).append(transition)
            if transition.lost:
                by_target.setdefault(("lost", 0), []).append(transition)
        leads = self.sudo()  # the regulation reads what it needs, whoever moves the lead
        applying = []
        for rule in regulation.rules:
            pool = by_target.get((rule.target, rule.to_stage_id if rule.target == "stage" else 0))
            if not pool:
                continue
            candidates = [
                transition
                for transition in pool
                if (not rule.team_ids or transition.team_id in rule.team_ids)
                and (not rule.from_stage_ids or transition.from_stage_id in rule.from_stage_ids)
            ]
            if candidates and rule.condition is not None:
                matching = set(
                    leads.browse([t.lead_id for t in candidates])
                    .filtered_domain(rule.condition)
                    ._ids
                )
                candidates = [t for t in candidates if t.lead_id in matching]
            if candidates:
                applying.append((rule, candidates))
        return applying

    def _regulation_stage_requirements(self, transitions, regulation, opened, context, result):
        """The stage shortcuts: fields required to enter, allowed next stages, no skipping
        (the latter two waived for a move that a rule names)."""
        env = self.env
        names = context.names
        stages = regulation.stages
        pipelines = {}
        for transition in transitions:
            if not transition.entered:
                continue
            lead_id = transition.lead_id
            items = result[lead_id]
            stage = stages[transition.to_stage_id]
            for fname in stage.field_names:
                context.check_field(items, lead_id, fname, "block")
            if not transition.move or (lead_id, stage.id) in opened:
                continue
            origin = stages[transition.from_stage_id]
            team_id = transition.team_id
            if team_id not in pipelines:
                pipelines[team_id] = regulation.pipeline(team_id)
            pipeline = pipelines[team_id]
            if origin.allowed_next_ids and stage.id not in origin.allowed_next_ids:
                text = env._(
                    "“%(stage)s” may not follow “%(origin)s” (allowed next stages: %(allowed)s)",
                    stage=names.stage(stage.id),
                    origin=names.stage(origin.id),
                    allowed=", ".join(
                        names.stage(stage_id)
                        for stage_id in dict.fromkeys(pipeline + sorted(origin.allowed_next_ids))
                        if stage_id in origin.allowed_next_ids
                    ),
                )
                items.append(Requirement(text, text, False, "block", 0))
            if origin.no_skip and origin.id in pipeline and stage.id in pipeline:
                start, end = pipeline.index(origin.id), pipeline.index(stage.id)
                if end > start + 1:
                    text = env._(
                        "stages may not be skipped after “%(origin)s” (skipped: %(skipped)s)",
                        origin=names.stage(origin.id),
                        skipped=", ".join(map(names.stage, pipeline[start + 1 : end])),
                    )
                    items.append(Requirement(text, text, False, "block", 0))

    def _regulation_rule_requirements(self, applying, context, result):
        """Each applying rule's requirements: fields, conditions, done activities."""
        env = self.env
        names = context.names
        leads = self.sudo()
        done = self._regulation_done_activities(applying)
        if not context.unmet_only:
            # the names of the rules with conditions, read at once (they name the checklist)
            names.prefetch(
                "crm.regulation.rule",
                [rule.id for rule, _c in applying if rule.required is not None],
            )
        user_group_ids = (
            set(env.user.all_group_ids.ids)
            if any(rule.bypass_group_ids for rule, _c in applying)
            else set()
        )
        for rule, candidates in applying:
            bypassed = bool(rule.bypass_group_ids & user_group_ids)
            matching = (
                set(
                    leads.browse([t.lead_id for t in candidates])
                    .filtered_domain(rule.required)
                    ._ids
                )
                if rule.required is not None
                else None
            )
            for transition in candidates:
                lead_id = transition.lead_id
                items = result[lead_id]
                for fname in rule.field_names:
                    context.check_field(items, lead_id, fname, rule.severity, rule.id, bypassed)
                if matching is not None:
                    met = lead_id in matching
                    if not (met and context.unmet_only):
                        rule_name = names.get("crm.regulation.rule", rule.id)
                        items.append(
                            Requirement(
                                rule_name,
                                env._("the conditions of “%s” are not met", rule_name),
                                met,
                                rule.severity,
                                rule.id,
                                bypassed and not met,
                            )
                        )
                for type_id in sorted(rule.activity_type_ids):
                    met = (lead_id, type_id) in done
                    if not (met and context.unmet_only):
                        type_name = names.get("mail.activity.type", type_id)
                        items.append(
                            Requirement(
                                env._("activity “%s” is done", type_name),
                                env._("activity “%s” is not done", type_name),
                                met,
                                rule.severity,
                                rule.id,
                                bypassed and not met,
                            )
                        )

    def _regulation_done_activities(self, applying):
        """{(lead id, activity type id)} done, in one query for all leads that need some.
        A done activity leaves a message with its type on the lead (kept or not)."""
        needing = {
            transition.lead_id
            for rule, candidates in applying
            if rule.activity_type_ids
            for transition in candidates
        }
        if not needing:
            return set()
        type_ids = set().union(*(rule.activity_type_ids for rule, _candidates in applying))
        return {
            (res_id, activity_type.id)
            for res_id, activity_type in self.env["mail.message"]
            .sudo()
            ._read_group(
                [
                    ("model", "=", self._name),
                    ("res_id", "in", list(needing)),
                    ("mail_activity_type_id", "in", list(type_ids)),
                ],
                ["res_id", "mail_activity_type_id"],
            )
        }

    def _regulation_target_name(self, transition):
        if transition.lost:
            return self.env._("Lost")
        name = self.env["crm.stage"].sudo().browse(transition.to_stage_id).name
        return self.env._("Won (%s)", name) if transition.won else f"“{name}”"

    def _regulation_describe(self, transition, items):
        """One lead's unmet requirements, and the rules behind them (their messages say
        what to do)."""
        text = self.env._(
            "“%(lead)s” → %(target)s: %(missing)s.",
            lead=self.sudo().browse(transition.lead_id).display_name,
            target=self._regulation_target_name(transition),
            missing="; ".join(item.missing for item in items),
        )
        rules = (
            self.env["crm.regulation.rule"]
            .sudo()
            .browse(list(dict.fromkeys(item.rule_id for item in items if item.rule_id)))
        )
        return text, rules

    def _regulation_error_message(self, blocked, by_id):
        lines = [self.env._("The sales regulation does not allow this:")]
        for lead_id in list(blocked)[:MAX_LEADS_IN_ERROR]:
            text, rules = self._regulation_describe(by_id[lead_id], blocked[lead_id])
            lines.append(f"• {text}")
            lines.extend(f"  → {rule.message}" for rule in rules if rule.message)
        if len(blocked) > MAX_LEADS_IN_ERROR:
            lines.append(self.env._("… and %s more leads.", len(blocked) - MAX_LEADS_IN_ERROR))
        lines.append(self.env._("Nothing was changed."))
        return "\n".join(lines)

    def _regulation_log(self, warnings, bypasses, by_id):
        """Post warnings and bypasses on the leads' chatter (one batch of messages, with
        their own subtypes so that they can be counted) and notify the user."""
        env = self.env
        xmlid_to_res_id = env["ir.model.data"]._xmlid_to_res_id
        values_list = []
        warning_texts = []
        for subtype, title, entries in (
            (
                xmlid_to_res_id("crm_regulation.mt_regulation_warning"),
                env._("Sales regulation warning:"),
                warnings,
            ),
            (
                xmlid_to_res_id("crm_regulation.mt_regulation_bypass"),
                env._("Sales regulation bypassed by %s:", env.user.name),
                bypasses,
            ),
        ):
            for lead_id, items in entries.items():
                text, rules = self._regulation_describe(by_id[lead_id], items)
                if entries is warnings:
                    warning_texts.append(text)
                body = Markup("<p>%s</p><p>%s</p>") % (title, text)
                if rules:
                    body += Markup("<p>%s</p>") % env._("Rule: %s", ", ".join(rules.mapped("name")))
                body += Markup().join(
                    Markup("<p>→ %s</p>") % rule.message for rule in rules if rule.message
                )
                values_list.append(
                    {
                        "author_id": env.user.partner_id.id,
                        "model": self._name,
                        "res_id": lead_id,
                        "body": body,
                        "message_type": "notification",
                        "subtype_id": subtype,
                        "is_internal": True,
                    }
                )
        self.sudo()._message_create(values_list)
        if warnings:
            env.user._bus_send(
                "simple_notification",
                {
                    "type": "warning",
                    "title": env._("Sales regulation"),
                    "message": "\n".join(warning_texts[:5]),
                    "sticky": False,
                },
            )

    def _regulation_schedule_entry_activities(self, transitions, regulation):
        """Schedule the activity plan of each entered stage for the lead's salesperson,
        unless the lead left that stage less than the stage's window ago."""
        entering = [
            transition
            for transition in transitions
            if transition.entered and regulation.stages[transition.to_stage_id].plan_id
        ]
        if not entering:
            return
        # left the same stage less than its window ago: a back-and-forth, no new tasks
        recent = {
            lead_id
            for (lead_id,) in self.env.execute_query(
                SQL(
                    """
            SELECT DISTINCT v.lead_id
              FROM unnest(%s::int[], %s::int[], %s::int[]) AS v(lead_id, stage_id, days)
              JOIN crm_lead_stage_history AS h
                ON h.lead_id = v.lead_id AND h.stage_id = v.stage_id
             WHERE h.date_out IS NOT NULL
               AND h.date_out > %s::timestamp - make_interval(days => v.days)
                    """,
                    [t.lead_id for t in entering],
                    [t.to_stage_id for t in entering],
                    [regulation.stages[t.to_stage_id].window_days for t in entering],
                    self.env.cr.now(),
                )
            )
        }
        plans = self.env["mail.activity.plan"].sudo()
        today = fields.Date.context_today(self)
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for transition in entering:
            lead = self.browse(transition.lead_id)
            if lead.id in recent:
                continue
            plan = plans.browse(regulation.stages[transition.to_stage_id].plan_id)
            owner = lead.user_id or self.env.user
            for template in plan.template_ids:
                # Odoo's own rule for who gets a plan's activity ("ask at launch" = the owner)
                responsible = template._determine_responsible(owner, lead)["responsible"] or owner
                values_list.append(
                    {
                        "res_model_id": model_id,
                        "res_id": lead.id,
                        "activity_type_id": template.activity_type_id.id,
                        "summary": template.summary,
                        "note": template.note,
                        "user_id": responsible.id,
                        "date_deadline": template._get_date_deadline(today),
                        "automated": True,
                    }
                )
        if values_list:
            self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create(
                values_list
            )

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_set_lost(self, **additional_values):
        losing = self.env.cr.cache.setdefault(LOSING_KEY, set())
        ids = set(self.ids) - losing
        losing.update(ids)
        try:
            return super().action_set_lost(**additional_values)
        finally:
            losing.difference_update(ids)

    def action_view_stage_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_lead_stage_history_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        action["display_name"] = self.env._("Stage history of %s", self.display_name)
        return action
