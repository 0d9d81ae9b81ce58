"""The regulation engine on leads: transition rules, stage shortcuts (required fields,
allowed next stages, no skipping), won criteria, the checklist of the next stage, and the
tasks scheduled on entering a stage. One place for every path (form, kanban, list,
import, RPC, won, lost, restore, automation), all leads of a batch at once."""

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .caller_values import sudo_clean
from .crm_lead import REASON_FIELDS
from .crm_regulation_violation import Violation
from .cursor_flags import LOSING, MAIL_GATEWAY, flagged
from .regulation import (
    ENFORCE,
    NEW_LEAD,
    OFF,
    Evaluation,
    Pipelines,
    Requirement,
    Transition,
    strictest,
)

# A refusal names at most this many leads (the count of the others follows).
MAX_LEADS_IN_ERROR = 200


# one capability a file (crm_lead.py says which)
class CrmLeadRegulation(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

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

    def _compute_regulation_bypass_count(self):
        subtype = self.env.ref("crm_regulation.mt_regulation_bypass")
        counts = dict(
            self.env["mail.message"]
            # sudo: bypass notes of any author on the leads being read (a count)
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
            # sudo: bypass notes of any author on leads (the result is a lead id subquery)
            .sudo()
            ._search([("model", "=", "crm.lead"), ("subtype_id", "=", subtype.id)])
            .subselect("res_id")
        )
        positive = (True in value) == (operator == "in")
        return [("id", "in" if positive else "not in", lead_ids)]

    @api.depends_context("uid", "lang")
    @api.depends("stage_id", "team_id", "active")
    def _compute_regulation_checklist(self):
        if self._regulation_sensitive_hidden():
            # it would tell whether sensitive fields are filled or won criteria met
            self.regulation_next_stage_id = False
            self.regulation_checklist = False
            return
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        pipelines = self._regulation_pipelines(regulation)
        transitions = []
        for lead in self:
            next_stage = 0
            mode = regulation.mode(lead.team_id.id, lead.company_id.id)
            # saved leads only: a lead being created has no activities or history yet
            if lead.active and lead.stage_id and isinstance(lead.id, int) and mode != OFF:
                pipeline = pipelines.of(lead.team_id.id)
                if lead.stage_id.id in pipeline:
                    index = pipeline.index(lead.stage_id.id)
                    next_stage = pipeline[index + 1] if index + 1 < len(pipeline) else 0
            lead.regulation_next_stage_id = next_stage or False
            if next_stage:
                stage = regulation.stages[next_stage]
                transitions.append(
                    Transition(
                        lead_id=lead.id,
                        team_id=lead.team_id.id,
                        from_stage_id=lead.stage_id.id,
                        to_stage_id=next_stage,
                        entered=True,
                        move=True,
                        won=stage.is_won,
                        lost=False,
                        mode=mode,
                    )
                )
        saved = self.browse([t.lead_id for t in transitions])
        requirements = (
            saved._regulation_requirements(transitions, regulation, pipelines=pipelines)
            if transitions
            else {}
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

    def _regulation_in_mode(self, *modes):
        """The leads of ``self`` whose regulation mode (their team's, else their
        company's) is one of ``modes``."""
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        # sudo: the team and company of the leads (their mode)
        caches = self.sudo()._regulation_field_caches(("team_id", "company_id"))
        return self.browse(
            lead_id
            for lead_id in self._ids
            if regulation.mode(caches["team_id"][lead_id], caches["company_id"][lead_id]) in modes
        )

    @api.model
    def _regulation_pipelines(self, regulation):
        """The teams' pipelines in the kanban order, read when first needed."""
        return Pipelines(regulation, self.env["crm.stage"]._regulation_order)

    # ------------------------------------------------------------
    # ENFORCEMENT
    # ------------------------------------------------------------

    def _regulation_transitions(self, before, states, regulation, sets_probability=True):
        """The regulated transitions given the state ``before`` a write ({id: Before};
        empty for new leads) and the ``states`` (LeadState) after it."""
        transitions = []
        stages = regulation.stages
        # leads being lost by action_set_lost: it archives them first (a lead already at 0%
        # is then lost in crm's terms), then writes the reason and the probability. The
        # rules targeting "lost" judge the second write, which carries the reason.
        losing = flagged(self.env, LOSING)
        for state in states:
            old = before.get(state.id, NEW_LEAD)
            old_lost = old.lost
            if state.id in losing:
                if not sets_probability:
                    continue
                old_lost = False
            lost = state.lost and not old_lost
            new_stage = state.stage_id or 0
            entered = bool(
                state.active and new_stage and (not old.active or old.stage_id != new_stage)
            )
            restored = bool(old_lost and state.active)
            if not (entered or lost or restored):
                continue
            old_won = bool(old.active and old.stage_id and stages[old.stage_id].is_won)
            transitions.append(
                Transition(
                    lead_id=state.id,
                    team_id=state.team_id or 0,
                    from_stage_id=old.stage_id,
                    to_stage_id=new_stage,
                    entered=entered,
                    move=entered and old.active and bool(old.stage_id),
                    won=entered and stages[new_stage].is_won and not old_won,
                    lost=lost,
                    restored=restored,
                    # a lead moved to another team by the same write: the stricter mode
                    mode=strictest(old.mode, regulation.mode(state.team_id, state.company_id)),
                )
            )
        return transitions

    def _regulation_enforce(self, transitions, regulation, rules=True):
        """Judge the transitions of the leads whose team's mode is not off: in enforce
        mode, refuse the batch in one error naming every lead and every unmet blocking
        requirement (logged as refused); in audit mode, log them as would-be refusals.
        Warnings and bypasses are logged and noted on the leads in both modes."""
        transitions = [transition for transition in transitions if transition.mode != OFF]
        if not transitions:
            return
        requirements = self._regulation_requirements(
            transitions, regulation, unmet_only=True, rules=rules
        )
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
        refused = {
            lead_id: items for lead_id, items in blocked.items() if by_id[lead_id].mode == ENFORCE
        }
        if refused and flagged(self.env, MAIL_GATEWAY):
            # a customer's e-mail is never dropped: the gateway's lead is logged, not refused
            refused = {}
        Log = self.env["crm.regulation.violation"]
        if refused:
            Log._record(self._regulation_violations(refused, by_id, "refused"), refused=True)
            raise UserError(self._regulation_error_message(refused, by_id))
        Log._record(
            self._regulation_violations(blocked, by_id, "would_refuse")
            + self._regulation_violations(warnings, by_id, "warned")
            + self._regulation_violations(bypasses, by_id, "bypassed")
        )
        if warnings or bypasses:
            self._regulation_log(warnings, bypasses, by_id)

    def _regulation_violations(self, entries, by_id, outcome):
        """[Violation] of ``entries`` ({lead id: [Requirement]}) for the compliance log."""
        if not entries:
            return []
        # sudo: the name, salesperson and company of the leads being judged (log values)
        leads = self.sudo().browse(list(entries))
        caches = leads._regulation_field_caches(("user_id", "company_id"))
        return [
            Violation(
                lead_id=lead.id,
                lead_name=lead.display_name,
                team_id=by_id[lead.id].team_id,
                user_id=caches["user_id"][lead.id],
                company_id=caches["company_id"][lead.id],
                rule_id=item.rule_id or None,
                source="rule" if item.rule_id else item.source,
                text=item.missing,
                mode=by_id[lead.id].mode,
                outcome=outcome,
            )
            for lead in leads
            for item in entries[lead.id]
        ]

    def _regulation_requirements(
        self, transitions, regulation, unmet_only=False, rules=True, pipelines=None
    ):
        """{lead id: [Requirement]} for ``transitions``: the stage shortcuts and the rules
        that apply, each requirement met or not (only the unmet ones with ``unmet_only``).
        Queries: none for fields, domains and stages (ORM cache, in-memory domains), one
        for done activities if a rule needs them, whatever the number of leads."""
        result = {transition.lead_id: [] for transition in transitions}
        applying = (
            self._regulation_applying_rules(transitions, regulation, strict=unmet_only)
            if rules
            else []
        )
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
        if rules:
            fnames.update(self._regulation_value_check_fields(transitions, regulation))
        if any(transition.lost for transition in transitions):
            fnames.update(REASON_FIELDS)
        # sudo: fields required by the regulation: every salesperson may read them (checked at save)
        evaluation = Evaluation(
            self.env,
            self.sudo()._regulation_field_caches(fnames),
            unmet_only,
            pipelines or self._regulation_pipelines(regulation),
        )
        if rules:
            self._regulation_stage_requirements(transitions, regulation, opened, evaluation, result)
            self._regulation_rule_requirements(applying, evaluation, result)
        self._regulation_outcome_requirements(transitions, regulation, evaluation, result)
        return result

    def _regulation_applying_rules(self, transitions, regulation, strict=True):
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
                matching = self._regulation_matching(
                    [t.lead_id for t in candidates], rule.condition, rule.id, strict
                )
                candidates = [t for t in candidates if t.lead_id in matching]
            if candidates:
                applying.append((rule, candidates))
        return applying

    def _regulation_matching(self, lead_ids, domain, rule_id, strict=True):
        """The ids of ``lead_ids`` that match a rule's domain, evaluated as whoever moves
        or views the leads (the narrowest environment that works: they read what they
        move; the superuser only when acting as such, e.g. a cron). A domain reading what
        they may not see refuses the move (``strict``), or matches nothing (checklist)."""
        leads = self.browse(lead_ids).with_context(active_test=False)
        try:
            return set(leads.filtered_domain(domain)._ids)
        except AccessError as error:
            if not strict:
                return set()
            raise UserError(
                self.env._(
                    "The sales regulation rule “%(rule)s” reads data you may not see, so "
                    "it cannot be checked for you. Ask a CRM administrator to change it. "
                    "Nothing was changed.",
                    # sudo: the rule's name, configuration everyone reads
                    rule=self.env["crm.regulation.rule"].sudo().browse(rule_id).name,
                )
            ) from error

    def _regulation_stage_requirements(self, transitions, regulation, opened, evaluation, result):
        """The stage shortcuts: fields required to enter, allowed next stages, no skipping
        (the latter two waived for a move that a rule names)."""
        env = self.env
        names = evaluation.names
        stages = regulation.stages
        for transition in transitions:
            if not transition.entered:
                continue
            lead_id = transition.lead_id
            items = result[lead_id]
            stage = stages[transition.to_stage_id]
            for fname in stage.field_names:
                evaluation.check_field(items, lead_id, fname, "block")
            self._regulation_check_values(items, transition, regulation, evaluation)
            if not transition.move or (lead_id, stage.id) in opened:
                continue
            origin = stages[transition.from_stage_id]
            if not (origin.allowed_next_ids or origin.no_skip):
                continue
            pipeline = evaluation.pipelines.of(transition.team_id)
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
                items.append(
                    Requirement(text=text, missing=text, met=False, severity="block", rule_id=0)
                )
            if origin.no_skip and origin.id in pipeline and stage.id in pipeline:
                start, end = pipeline.index(origin.id), pipeline.index(stage.id)
                if end > start + 1:
                    text = env._(
                        "stages may not be skipped after “%(origin)s” (skipped: %(skipped)s)",
                        origin=names.stage(origin.id),
                        skipped=", ".join(map(names.stage, pipeline[start + 1 : end])),
                    )
                    items.append(
                        Requirement(text=text, missing=text, met=False, severity="block", rule_id=0)
                    )

    def _regulation_rule_requirements(self, applying, evaluation, result):
        """Each applying rule's requirements: fields, conditions, done activities."""
        env = self.env
        names = evaluation.names
        done = self._regulation_done_activities(applying)
        if not evaluation.unmet_only:
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
                self._regulation_matching(
                    [t.lead_id for t in candidates], rule.required, rule.id, evaluation.unmet_only
                )
                if rule.required is not None
                else None
            )
            for transition in candidates:
                lead_id = transition.lead_id
                items = result[lead_id]
                for fname in rule.field_names:
                    evaluation.check_field(items, lead_id, fname, rule.severity, rule.id, bypassed)
                if matching is not None:
                    met = lead_id in matching
                    if not (met and evaluation.unmet_only):
                        rule_name = names.get("crm.regulation.rule", rule.id)
                        items.append(
                            Requirement(
                                text=rule_name,
                                missing=env._("the conditions of “%s” are not met", rule_name),
                                met=met,
                                severity=rule.severity,
                                rule_id=rule.id,
                                bypassed=bypassed and not met,
                            )
                        )
                for type_id in sorted(rule.activity_type_ids):
                    met = (lead_id, type_id) in done
                    if not (met and evaluation.unmet_only):
                        type_name = names.get("mail.activity.type", type_id)
                        items.append(
                            Requirement(
                                text=env._("activity “%s” is done", type_name),
                                missing=env._("activity “%s” is not done", type_name),
                                met=met,
                                severity=rule.severity,
                                rule_id=rule.id,
                                bypassed=bypassed and not met,
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
            # sudo: done activities of the leads being moved, counted by type
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
        if transition.restored and not transition.won:
            return self.env._("Return to work")
        # sudo: a stage's name, configuration everyone reads
        name = self.env["crm.stage"].sudo().browse(transition.to_stage_id).name
        return self.env._("Won (%s)", name) if transition.won else f"“{name}”"

    def _regulation_describe(self, transition, items):
        """One lead's unmet requirements, and the rules behind them (their messages say
        what to do)."""
        text = self.env._(
            "“%(lead)s” → %(target)s: %(missing)s.",
            # sudo: the name of a lead the user is moving
            lead=self.sudo().browse(transition.lead_id).display_name,
            target=self._regulation_target_name(transition),
            missing="; ".join(item.missing for item in items),
        )
        rules = (
            self.env["crm.regulation.rule"]
            # sudo: the rules behind unmet requirements (their names and messages)
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
        # sudo: the regulation's own notes on the moved leads; values built here
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
            if transition.entered
            and transition.mode != OFF
            and regulation.stages[transition.to_stage_id].plan_id
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
        # sudo: the stage's configured plan, whoever moves the lead
        plans = self.env["mail.activity.plan"].sudo()
        today = fields.Date.context_today(self)
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for transition in entering:
            lead = self.browse(transition.lead_id)
            if lead.id in recent:
                continue
            # exists(): a plan deleted since the regulation was cached
            plan = plans.browse(regulation.stages[transition.to_stage_id].plan_id).exists()
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
            # sudo: the stage's entry tasks for the lead's salesperson; values from the plan
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)

    def _regulation_after_transitions(self, transitions, states, regulation, updates):
        """What a transition settles besides the history (values added to ``updates``): a
        lead qualified or closed has met its qualification deadline; a lead that moves or
        comes back is no longer stale."""
        moved = {t.lead_id for t in transitions if t.entered or t.lost or t.won}
        moved_states = [state for state in states if state.id in moved]
        if moved_states:
            # sudo: the moved leads' regulation fields (system fields)
            leads = self.browse([state.id for state in moved_states]).sudo()
            leads._qualification_settle(moved_states, regulation, updates)
            leads._stale_touch(updates)
