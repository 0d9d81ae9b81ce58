from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from typing import NamedTuple

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command, Domain
from odoo.tools import SQL, format_datetime
from odoo.tools.mail import is_html_empty

from .business_clock import clock_for
from .caller_values import sudo_clean
from .crm_regulation_rule import SlaSpec
from .res_users import MANAGER_GROUPS

# Fields whose change can start or end a stay in a stage. A probability set to 0 matters
# too: an archived lead becomes lost that way (crm.lead.action_set_lost archives first).
# The stage history itself is kept by crm.lead.stage.history._sync_leads().
STAY_FIELDS = frozenset({"stage_id", "active"})
# Fields whose change can be a regulated transition (enter a stage, be won, be lost).
TRANSITION_FIELDS = frozenset({"stage_id", "active", "probability"})
# A refusal names at most this many leads (the count of the others follows).
MAX_LEADS_IN_ERROR = 200
# Cursor-level (never client-controlled) sets of leads: being lost by action_set_lost,
# being returned to work with a reason (or won), created by the mail gateway.
LOSING_KEY = "crm_regulation.losing"
RESTORING_KEY = "crm_regulation.restoring"
MAIL_GATEWAY_KEY = "crm_regulation.mail_gateway"
# Fields that state why a lead was lost: their requirements are checked when they change.
REASON_FIELDS = frozenset({"lost_reason_id", "duplicate_of_id", "lost_feedback"})
# Fields kept by the regulation itself (watchers, review): not writable by hand.
SYSTEM_FIELDS = frozenset(
    {
        "qualification_deadline",
        "qualification_state",
        "qualification_check_at",
        "qualification_date",
        "stale_date",
        "sla_deadline",
        "sla_warning_at",
        "sla_state",
        "loss_review_state",
        "loss_reviewed_by_id",
        "loss_review_date",
        "outcome",
    }
)
# Who reviews losses and disqualifications (head of sales).
# Leads handled per committed batch by the watchers.
WATCHER_BATCH = 500
# Leads written per statement when an SLA change reschedules a stage.
RESCHEDULE_CHUNK = 20000


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
    restored: bool = False  # a lost lead back to work


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
            # sudo: names of the regulation's configuration (stages, rules, activity types)
            self.cache[model, record_id] = self.env[model].sudo().browse(record_id).display_name
        return self.cache[model, record_id]

    def stage(self, stage_id):
        return self.get("crm.stage", stage_id)

    def prefetch(self, model, record_ids):
        if record_ids:
            # sudo: names of the regulation's configuration (stages, rules, activity types)
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
    # outcome: disqualification vs loss
    outcome = fields.Selection(
        [
            ("open", "In Progress"),
            ("won", "Won"),
            ("lost", "Lost"),
            ("disqualified", "Disqualified"),
        ],
        default="open",
        readonly=True,
        copy=False,
        help="Disqualified: closed with a reason of the disqualification category (spam, "
        "duplicate, existing customer…), left out of conversion. Lost: a real opportunity "
        "lost.",
    )
    lost_feedback = fields.Html(
        string="Closing Note", sanitize=True, copy=False, help="Why the lead was closed."
    )
    duplicate_of_id = fields.Many2one(
        "crm.lead",
        string="Original Lead",
        index="btree_not_null",
        ondelete="set null",
        copy=False,
        tracking=True,
        help="The lead this one duplicates (disqualified as a duplicate).",
    )
    # loss review by the head of sales
    loss_review_state = fields.Selection(
        [("to_review", "To Review"), ("confirmed", "Confirmed"), ("returned", "Returned to Work")],
        string="Loss Review",
        readonly=True,
        copy=False,
        tracking=True,
        index="btree_not_null",
    )
    loss_reviewed_by_id = fields.Many2one(
        "res.users",
        string="Reviewed By",
        readonly=True,
        copy=False,
    )
    loss_review_date = fields.Datetime(
        string="Reviewed On",
        readonly=True,
        copy=False,
    )
    # qualification deadline
    qualification_deadline = fields.Datetime(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="When the lead must be qualified (reach the team's qualification stage) or "
        "disqualified, counted in the team's business hours from its creation.",
    )
    qualification_state = fields.Selection(
        [
            ("pending", "To Qualify"),
            ("warned", "Deadline Near"),
            ("overdue", "Qualification Overdue"),
            ("done", "Qualified or Closed"),
        ],
        readonly=True,
        copy=False,
    )
    qualification_date = fields.Datetime(
        string="Qualified On",
        readonly=True,
        copy=False,
        help="When the lead reached the qualification stage or was closed.",
    )
    qualification_check_at = fields.Datetime(
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Technical: when the qualification watcher must next look at the lead.",
    )
    # stale leads
    stale_date = fields.Datetime(
        string="Stale Since",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Flagged when the lead had no stage move, activity or message for the team's "
        "number of days; cleared when it is touched again.",
    )

    # stage SLA
    sla_deadline = fields.Datetime(
        string="Stage Deadline",
        readonly=True,
        copy=False,
        help="When the lead must leave its stage: the stage's SLA counted in the team's "
        "business hours from the moment the lead entered it (from the next working "
        "moment when that was outside working hours).",
    )
    sla_warning_at = fields.Datetime(
        string="At Risk From",
        readonly=True,
        copy=False,
        help="When the lead becomes at risk of missing its stage deadline.",
    )
    sla_state = fields.Selection(
        [("on_track", "On Track"), ("at_risk", "At Risk"), ("breached", "SLA Breached")],
        string="Stage SLA",
        readonly=True,
        copy=False,
        help="Where the lead stands against its stage's SLA, kept by the SLA watcher. Empty: "
        "no SLA (none on the stage, or the lead is won, lost or archived).",
    )

    # closed leads only: a stage move of an open lead adds no entry to it
    _outcome_closed_idx = models.Index("(outcome) WHERE outcome <> 'open'")
    # the SLA watcher's query: leads still to warn, leads still to escalate
    _sla_warning_due_idx = models.Index("(sla_warning_at) WHERE sla_state = 'on_track'")
    # (a lead on track past its deadline is past its warning too: the first index finds it)
    _sla_deadline_due_idx = models.Index("(sla_deadline) WHERE sla_state = 'at_risk'")

    @api.constrains("duplicate_of_id")
    def _check_duplicate_of(self):
        if any(lead.duplicate_of_id == lead for lead in self):
            raise ValidationError(self.env._("A lead cannot be the duplicate of itself."))

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
        if not self.env.su and any(SYSTEM_FIELDS.intersection(vals) for vals in vals_list):
            raise AccessError(self._regulation_system_fields_error())
        leads = super().create(vals_list)
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        rows = leads._regulation_cache_values(STATE_FIELDS)
        transitions = leads._regulation_transitions({}, rows, regulation)
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
        leads._regulation_check_duplicates()
        leads._regulation_sync_outcome(regulation)
        sla = leads._sla_sync({}, rows, regulation, from_lead=True)
        self.env["crm.lead.stage.history"]._sync_leads(
            leads, date_in_from_lead=True, rows=rows, sla=sla
        )
        if transitions:
            leads._regulation_schedule_entry_activities(transitions, regulation)
        leads._qualification_start(rows, regulation)
        return leads

    def write(self, vals):
        if not self.env.su and SYSTEM_FIELDS.intersection(vals):
            raise AccessError(self._regulation_system_fields_error())
        regulation = before = None
        if TRANSITION_FIELDS.intersection(vals) or REASON_FIELDS.intersection(vals):
            regulation = self.env["crm.regulation.rule"]._get_regulation()
            # the state before the write (crm's write reads the same fields: cached)
            before = {
                lead_id: (stage_id or 0, active, not active and probability == 0)
                for lead_id, stage_id, active, probability in self._regulation_cache_values(
                    ("stage_id", "active", "probability")
                )
            }
        sla_preset = None
        if before is not None and vals.get("stage_id") and not {"active", "team_id"} & set(vals):
            # a stage move of open leads of one team: their new SLA goes in the same UPDATE
            sla_preset = self._sla_preset(vals["stage_id"], before, regulation)
            if sla_preset:
                vals = {**vals, **sla_preset[0]}
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
        if before and REASON_FIELDS.intersection(vals):
            # the reason of a lead already lost changes: its requirements still hold
            self._regulation_enforce(
                self._regulation_lost_already(before, rows, transitions), regulation, rules=False
            )
        if before:
            self._regulation_sync_outcome(regulation)
        if sync:
            sla = self._sla_sync(before, rows, regulation, preset=sla_preset and sla_preset[1])
            self.env["crm.lead.stage.history"]._sync_leads(
                self, became_lost=became_lost, rows=rows, sla=sla
            )
        if "team_id" in vals and self.env["crm.regulation.rule"]._get_regulation().slas:
            # another team: its SLA and working hours, from the start of the same stay
            self._sla_reschedule(lead_ids=self.ids)
        if transitions:
            self._regulation_schedule_entry_activities(transitions, regulation)
            self._regulation_after_transitions(transitions, rows, regulation)
        return result

    def _regulation_sync_outcome(self, regulation):
        """Keep ``outcome`` (won / lost / disqualified / open) and the loss review in step
        with crm's won/lost state and the reason's category: a new loss or disqualification
        is to be reviewed; leaving the lost state forgets an unfinished or confirmed review
        (a lead returned to work by its review keeps that mark). Maintained here rather than
        as a computed field, so that a stage move of open leads (crm recomputes
        ``won_status`` on every move) writes nothing more."""
        # sudo: the regulation's own bookkeeping fields of these leads
        caches = self.sudo()._regulation_field_caches(
            ("won_status", "lost_reason_id", "outcome", "loss_review_state")
        )
        groups = {}
        for lead_id in self._ids:
            won_status = caches["won_status"][lead_id]
            if won_status == "won":
                outcome = "won"
            elif won_status == "lost":
                reason = regulation.reasons.get(caches["lost_reason_id"][lead_id])
                disqualified = reason is not None and reason.category == "disqualification"
                outcome = "disqualified" if disqualified else "lost"
            else:
                outcome = "open"
            old = caches["outcome"][lead_id]
            if outcome == old:
                continue
            values = {"outcome": outcome}
            review = None
            if outcome in ("lost", "disqualified"):
                if old not in ("lost", "disqualified"):
                    review = "to_review"
            elif caches["loss_review_state"][lead_id] in ("to_review", "confirmed"):
                review = False
            if review is not None:
                values.update(
                    loss_review_state=review, loss_reviewed_by_id=False, loss_review_date=False
                )
            groups.setdefault(tuple(values.items()), []).append(lead_id)
        for values, lead_ids in groups.items():
            # sudo: outcome and review are system fields; values computed here
            self.browse(lead_ids).sudo().write(dict(values))

    def _regulation_system_fields_error(self):
        return self.env._(
            "The qualification, stale, SLA and loss review fields of leads are kept by the "
            "sales regulation: they cannot be written directly."
        )

    def _regulation_lost_already(self, before, rows, transitions):
        """Transitions standing for leads that were lost before a write and still are."""
        judged = {transition.lead_id for transition in transitions}
        return [
            Transition(
                lead_id, team_id or 0, stage_id or 0, stage_id or 0, False, False, False, True
            )
            for lead_id, stage_id, active, probability, team_id, _user, _company in rows
            if lead_id not in judged and before[lead_id][2] and not active and probability == 0
        ]

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
            restored = bool(old_lost and active)
            if not (entered or lost or restored):
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
                    restored,
                )
            )
        return transitions

    def _regulation_enforce(self, transitions, regulation, rules=True):
        """Refuse the batch in one error naming every lead and every unmet blocking
        requirement, or log its warnings and bypasses on the leads."""
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
        if blocked:
            raise UserError(self._regulation_error_message(blocked, by_id))
        if warnings or bypasses:
            self._regulation_log(warnings, bypasses, by_id)

    def _regulation_requirements(self, transitions, regulation, unmet_only=False, rules=True):
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
        if any(transition.lost for transition in transitions):
            fnames.update(REASON_FIELDS)
        # sudo: fields required by the regulation: every salesperson may read them (checked at save)
        context = _Context(self.env, self.sudo()._regulation_field_caches(fnames), unmet_only)
        if rules:
            self._regulation_stage_requirements(transitions, regulation, opened, context, result)
            self._regulation_rule_requirements(applying, context, result)
        self._regulation_outcome_requirements(transitions, regulation, context, result)
        return result

    def _regulation_outcome_requirements(self, transitions, regulation, context, result):
        """Closing and reopening a lead: a lost lead has a reason and what its reason
        requires (a closing note, the original lead); a lost lead returns to work only
        with a reason (the "Return to Work" dialog)."""
        env = self.env
        caches = context.caches
        restoring = env.cr.cache.get(RESTORING_KEY, ())
        texts = {}

        def add(items, key, met):
            if met and context.unmet_only:
                return
            if not texts:  # translated once per call, when first needed
                texts.update(
                    restore=(
                        env._("a reason to return it to work is given"),
                        env._("a lost lead returns to work with a reason (use “Return to Work”)"),
                    ),
                    reason=(env._("a lost reason is given"), env._("a lost reason is required")),
                    comment=(
                        env._("a closing note is written"),
                        env._("the reason requires a closing note"),
                    ),
                    original=(
                        env._("the original lead is given"),
                        env._("the reason requires the original lead (another lead)"),
                    ),
                )
            text, missing = texts[key]
            items.append(Requirement(text, missing, met, "block", 0))

        for transition in transitions:
            lead_id = transition.lead_id
            items = result[lead_id]
            if transition.restored and lead_id not in restoring:
                add(items, "restore", False)
            if not transition.lost:
                continue
            reason = regulation.reasons.get(caches["lost_reason_id"][lead_id])
            add(items, "reason", reason is not None)
            if reason is None:
                continue
            if reason.requires_comment:
                add(items, "comment", not is_html_empty(caches["lost_feedback"][lead_id]))
            if reason.requires_duplicate_of:
                original = caches["duplicate_of_id"][lead_id]
                add(items, "original", bool(original) and original != lead_id)

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
                self._regulation_matching(
                    [t.lead_id for t in candidates], rule.required, rule.id, context.unmet_only
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
        # sudo: the stage's configured plan, whoever moves the lead
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
            # sudo: the stage's entry tasks for the lead's salesperson; values from the plan
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)

    def _regulation_after_transitions(self, transitions, rows, regulation):
        """What a transition settles besides the history: a lead qualified or closed has
        met its qualification deadline; a lead that moves or comes back is no longer
        stale."""
        moved = {t.lead_id for t in transitions if t.entered or t.lost or t.won}
        if not moved:
            return
        # sudo: the moved leads' regulation fields (system fields)
        leads = self.browse(list(moved)).sudo()
        caches = leads._regulation_field_caches(("qualification_state", "stale_date"))
        waiting = [
            row
            for row in rows
            if row[0] in moved
            and caches["qualification_state"][row[0]] in ("pending", "warned", "overdue")
        ]
        if waiting:
            settled = leads._qualification_settled(waiting, regulation)
            if settled:
                # sudo: qualification fields are system fields; values computed here
                self.browse(settled).sudo().write(
                    {
                        "qualification_state": "done",
                        "qualification_check_at": False,
                        "qualification_date": self.env.cr.now(),
                    }
                )
        touched = [lead_id for lead_id in moved if caches["stale_date"][lead_id]]
        if touched:
            # sudo: stale flag is a system field
            self.browse(touched).sudo().write({"stale_date": False})

    # ------------------------------------------------------------
    # QUALIFICATION DEADLINE
    # ------------------------------------------------------------

    def _qualification_settings(self, team_ids):
        """{team id: (qualification stage id, hours, warning hours, calendar)} of the teams
        that have a qualification deadline."""
        # sudo: team settings of the leads' teams, whoever moves them
        teams = self.env["crm.team"].sudo().browse([t for t in team_ids if t])
        return {
            team.id: (
                team.qualification_stage_id.id,
                team.qualification_hours,
                team.qualification_warning_hours,
                team._regulation_calendar(),
            )
            for team in teams
            if team.qualification_stage_id and team.qualification_hours > 0
        }

    def _qualification_settled(self, rows, regulation, settings=None):
        """Ids of the leads of ``rows`` (STATE_FIELDS) that are qualified (at or after their
        team's qualification stage, in the stage order), closed or archived."""
        if settings is None:
            settings = self._qualification_settings({row[4] for row in rows})
        rank = {stage_id: index for index, stage_id in enumerate(regulation.stages)}
        settled = []
        for lead_id, stage_id, active, _probability, team_id, _user, _company in rows:
            stage = regulation.stages.get(stage_id)
            setting = settings.get(team_id)
            if (
                not active
                or not stage
                or stage.is_won
                or not setting
                or rank[stage_id] >= rank.get(setting[0], -1)
            ):
                settled.append(lead_id)
        return settled

    def _qualification_start(self, rows, regulation):
        """Give new leads of teams with a qualification deadline their deadline, in the
        team's business hours from now (one business clock per team and batch)."""
        settings = self._qualification_settings({row[4] for row in rows})
        if not settings:
            return
        settled = set(self._qualification_settled(rows, regulation, settings))
        now = self.env.cr.now().replace(microsecond=0)
        by_team = {}
        for lead_id, _stage, _active, _probability, team_id, _user, _company in rows:
            if team_id in settings and lead_id not in settled:
                by_team.setdefault(team_id, []).append(lead_id)
        for team_id, lead_ids in by_team.items():
            _stage_id, hours, warning_hours, calendar = settings[team_id]
            clock = clock_for(calendar, [now], hours) if calendar else None
            deadline = self._business_moment(clock, now, hours)
            warning_at = now
            if 0 < warning_hours < hours:
                warning_at = self._business_moment(clock, now, hours - warning_hours)
            # sudo: qualification fields are system fields; values computed here
            self.browse(lead_ids).sudo().write(
                {
                    "qualification_deadline": deadline,
                    "qualification_state": "pending",
                    "qualification_check_at": warning_at if warning_hours else deadline,
                }
            )

    @api.model
    def _cron_qualification_watcher(self, batch_size=WATCHER_BATCH):
        """Notify the salesperson when a lead's qualification deadline is near (an
        activity) and the team leader when it has passed (a notification on the lead).
        One indexed query finds what is due; batches are locked (several workers skip
        each other's leads), re-checked after the lock, and committed with their state,
        so that nothing is notified twice."""
        now = fields.Datetime.now()
        due = self.with_context(active_test=False)._search(
            [("qualification_check_at", "<=", now)], order="qualification_check_at, id"
        )
        return self._regulation_run_batches(
            list(due), batch_size, lambda leads: leads._qualification_notify(now)
        )

    @api.model
    def _regulation_run_batches(self, lead_ids, batch_size, process):
        """Run ``process`` on locked batches of ``lead_ids``, committing progress after each
        batch (the cron reruns the job while time is up and leads remain)."""
        Cron = self.env["ir.cron"]
        Cron._commit_progress(remaining=len(lead_ids))
        todo = list(lead_ids)
        done = 0
        while todo:
            batch = self.browse(todo[: batch_size * 4]).try_lock_for_update(limit=batch_size)
            if not batch:
                # all locked by another worker: it is processing them
                Cron._commit_progress(remaining=0)
                break
            locked = set(batch.ids)
            todo = [lead_id for lead_id in todo if lead_id not in locked]
            batch.invalidate_recordset()  # what another worker committed before our lock
            # notification emails go to the mail queue, not sent at each batch's commit
            # sudo: a watcher cron's batch; no caller values
            process(batch.sudo().with_context(mail_notify_force_send=False))
            done += len(batch)
            if not Cron._commit_progress(len(batch), remaining=len(todo)):
                break
        return done

    def _qualification_notify(self, now):
        leads = self.filtered(
            lambda lead: lead.qualification_check_at
            and lead.qualification_check_at <= now
            and lead.qualification_state in ("pending", "warned")
        )
        overdue = leads.filtered(lambda lead: lead.qualification_deadline <= now)
        near = leads - overdue
        # the salesperson's task (also when the cron saw the lead only after its deadline)
        to_warn = near | overdue.filtered(lambda lead: lead.qualification_state == "pending")
        activity_type = self.env.ref("crm_regulation.mail_activity_type_qualify")
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for lead in to_warn:
            user = lead.user_id or lead.team_id.user_id
            if not user:
                continue
            user_lead = lead.with_user(user).with_context(lang=user.lang)
            values_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": lead.id,
                    "activity_type_id": activity_type.id,
                    "summary": user_lead.env._(
                        "Qualify before %s",
                        format_datetime(user_lead.env, lead.qualification_deadline),
                    ),
                    "user_id": user.id,
                    "date_deadline": fields.Date.context_today(
                        user_lead, lead.qualification_deadline
                    ),
                    "automated": True,
                }
            )
        if values_list:
            # sudo: the qualification watcher's tasks (cron); values built here
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)
        near.write({"qualification_state": "warned"})
        for lead in near:  # next look: at the deadline (one UPDATE at flush)
            lead.qualification_check_at = lead.qualification_deadline
        for lead in overdue:
            leader = lead.team_id.user_id
            if leader:
                lead.with_context(lang=leader.lang).message_post(
                    body=Markup("<p>%s</p>")
                    % lead.with_context(lang=leader.lang).env._(
                        "The qualification deadline of this lead (%(deadline)s) has passed; "
                        "salesperson: %(user)s.",
                        deadline=format_datetime(
                            lead.with_user(leader).env, lead.qualification_deadline
                        ),
                        user=lead.user_id.name or lead.env._("nobody"),
                    ),
                    partner_ids=leader.partner_id.ids,
                    subtype_xmlid="mail.mt_note",
                )
        overdue.write({"qualification_state": "overdue", "qualification_check_at": False})

    # ------------------------------------------------------------
    # STALE LEADS
    # ------------------------------------------------------------

    @api.model
    def _stale_touched_sql(self, since):
        """SQL condition: lead ``l`` was touched at or after ``since`` (an SQL timestamp):
        a stage move, an activity planned then or due from then on, a message or an
        email (not a notification, unless it is a done activity)."""
        return SQL(
            """(
            l.date_last_stage_update >= %(since)s
            OR EXISTS (
                SELECT 1 FROM mail_activity a
                 WHERE a.res_model = 'crm.lead' AND a.res_id = l.id
                   AND (a.create_date >= %(since)s OR a.date_deadline >= (%(since)s)::date)
            )
            OR EXISTS (
                SELECT 1 FROM mail_message m
                 WHERE m.model = 'crm.lead' AND m.res_id = l.id AND m.date >= %(since)s
                   AND (m.message_type IN ('comment', 'email')
                        OR m.mail_activity_type_id IS NOT NULL)
            ))""",
            since=since,
        )

    @api.model
    def _stale_due_sql(self, now):
        """The three sets of the stale-lead watcher, each one indexed query: flagged leads
        touched again or closed (to unflag), leads untouched for their team's number of
        days (to flag), flagged leads past the grace period of a team that loses them
        (to lose)."""
        open_lead = SQL("l.active AND l.won_status = 'pending'")
        return {
            "unflag": SQL(
                """SELECT l.id FROM crm_lead l
                WHERE l.stale_date IS NOT NULL
                  AND (NOT (%(open)s) OR %(touched)s)
                ORDER BY l.id""",
                open=open_lead,
                touched=self._stale_touched_sql(SQL("l.stale_date")),
            ),
            "flag": SQL(
                """SELECT l.id FROM crm_lead l JOIN crm_team t ON t.id = l.team_id
                WHERE t.stale_days > 0 AND %(open)s AND l.stale_date IS NULL
                  AND l.date_last_stage_update < %(now)s - make_interval(days => t.stale_days)
                  -- the same bound with the smallest setting: an index range on
                  -- date_last_stage_update (the team's own bound alone cannot use one)
                  AND l.date_last_stage_update < %(now)s - make_interval(days => (
                      SELECT min(stale_days) FROM crm_team WHERE stale_days > 0))
                  AND NOT %(touched)s
                ORDER BY l.id""",
                open=open_lead,
                now=now,
                touched=self._stale_touched_sql(
                    SQL("(%s - make_interval(days => t.stale_days))", now)
                ),
            ),
            "lose": SQL(
                """SELECT l.id FROM crm_lead l JOIN crm_team t ON t.id = l.team_id
                WHERE l.stale_date IS NOT NULL AND %(open)s
                  AND t.stale_auto_lose AND t.stale_lost_reason_id IS NOT NULL
                  AND l.stale_date <= %(now)s - make_interval(days => t.stale_grace_days)
                  AND l.stale_date <= %(now)s - make_interval(days => (
                      SELECT min(stale_grace_days) FROM crm_team WHERE stale_auto_lose))
                  AND NOT %(touched)s
                ORDER BY l.id""",
                open=open_lead,
                now=now,
                touched=self._stale_touched_sql(SQL("l.stale_date")),
            ),
        }

    @api.model
    def _cron_stale_leads(self, batch_size=WATCHER_BATCH):
        """Stale leads leave the funnel: unflag the leads touched again, flag (and tell the
        salesperson) the leads untouched for the team's number of days, then lose those
        still untouched after the grace period where the team asks for it. Batched,
        locked and committed like the qualification watcher; each step's query returns
        only what is still to do, so that a rerun does nothing twice."""
        now = fields.Datetime.now()
        queries = self._stale_due_sql(now)
        done = 0
        for step, process in (
            ("unflag", lambda leads: leads._stale_unflag(now)),
            ("flag", lambda leads: leads._stale_flag(now)),
            ("lose", lambda leads: leads._stale_lose(now)),
        ):
            lead_ids = self._stale_execute(queries[step])
            done += self._regulation_run_batches(lead_ids, batch_size, process)
        return done

    @api.model
    def _stale_execute(self, query):
        """Ids returned by a watcher query. PostgreSQL's JIT is off for it: the planner's
        cost of the per-lead EXISTS checks can pass the JIT threshold, and compiling then
        costs a second where the query itself takes milliseconds."""
        self.env.cr.execute("SET LOCAL jit = off")
        return [lead_id for (lead_id,) in self.env.execute_query(query)]

    def _stale_recheck(self, step, now):
        """The leads of ``self`` still due for ``step`` (read again after the lock)."""
        query = self._stale_due_sql(now)[step]
        return self.browse(
            self._stale_execute(
                SQL("SELECT id FROM (%s) AS due WHERE id = ANY(%s)", query, list(self.ids))
            )
        )

    def _stale_unflag(self, now):
        self._stale_recheck("unflag", now).write({"stale_date": False})

    def _stale_flag(self, now):
        leads = self._stale_recheck("flag", now)
        leads.write({"stale_date": now})
        for lead in leads:
            team = lead.team_id
            user = lead.user_id or team.user_id
            env = lead.with_context(lang=user.lang or self.env.lang).env
            text = env._(
                "This lead is stale: no stage move, activity or message for %s days. Plan "
                "an activity, write to the customer or move it.",
                team.stale_days,
            )
            if team.stale_auto_lose:
                text += " " + env._(
                    "Otherwise it will be lost automatically (“%(reason)s”) in %(days)s days.",
                    reason=team.stale_lost_reason_id.with_env(env).name,
                    days=team.stale_grace_days,
                )
            lead.message_post(
                body=Markup("<p>%s</p>") % text,
                partner_ids=user.partner_id.ids,
                subtype_xmlid="mail.mt_note",
            )

    def _stale_lose(self, now):
        """Lose stale leads with their team's reason, one ``action_set_lost`` per team and
        salesperson's language, each loss logged on its lead. If the regulation refuses
        a batch, its leads are lost one by one: a lead refused stays open, flagged again,
        the refusal logged."""
        leads = self._stale_recheck("lose", now)
        for (team, lang), group in leads.grouped(
            lambda lead: (lead.team_id, lead.user_id.lang or self.env.lang)
        ).items():
            env = group.with_context(lang=lang).env
            reason = team.stale_lost_reason_id.with_env(env)
            note = env._(
                "Lost automatically after %(days)s days without a stage move, activity or "
                "message (reason: %(reason)s). Use “Return to Work” to reopen it.",
                days=team.stale_days + team.stale_grace_days,
                reason=reason.name,
            )
            values = {"lost_reason_id": reason.id, "lost_feedback": Markup("<p>%s</p>") % note}
            try:
                with self.env.cr.savepoint():
                    group.with_env(env).action_set_lost(**values)
                lost = group
            except UserError:
                lost = self.browse()
                for lead in group:
                    try:
                        with self.env.cr.savepoint():
                            lead.with_env(env).action_set_lost(**values)
                        lost |= lead
                    except UserError as error:
                        lead.write({"stale_date": now})
                        lead.message_post(
                            body=Markup("<p>%s</p><pre>%s</pre>")
                            % (env._("This stale lead could not be lost automatically:"), error),
                            partner_ids=lead.user_id.partner_id.ids,
                            subtype_xmlid="mail.mt_note",
                        )
            for lead in lost:
                lead.message_post(
                    body=Markup("<p>%s</p>") % note,
                    partner_ids=lead.user_id.partner_id.ids,
                    subtype_xmlid="mail.mt_note",
                )

    # ------------------------------------------------------------
    # STAGE SLA
    # ------------------------------------------------------------

    @api.model
    def _sla_calendars(self, team_ids):
        """{team id: working calendar} of ``team_ids`` (``crm.team._regulation_calendar``);
        key 0 for leads without a team: the company's."""
        # sudo: working hours of the leads' teams, whoever moves them
        teams = self.env["crm.team"].sudo().browse([team_id for team_id in team_ids if team_id])
        calendars = {team.id: team._regulation_calendar() for team in teams}
        if len(calendars) < len(team_ids):
            calendars[0] = self.env.company.resource_calendar_id
        return calendars

    @api.model
    def _sla_state_at(self, now, deadline, warning_at, old_state):
        """The state of an SLA at ``now``. A lead that is already past its warning or its
        deadline keeps the state it was notified in: the watcher notifies the rest."""
        if warning_at > now:
            return "on_track"
        if deadline > now:
            return "at_risk" if old_state in ("at_risk", "breached") else "on_track"
        return old_state if old_state in ("at_risk", "breached") else "on_track"

    @api.model
    def _sla_plan(self, stays, regulation, now):
        """SLA values of stays, counted in business hours from their start.

        ``stays``: [(lead id, team id, stage id, start, old state)] →
        {lead id: (deadline, warning at, state, hours)}, all None (and 0 hours) for a
        stay without SLA. One clock per calendar serves every stay of it; stays that
        start together (a stage move) are computed once.
        """
        calendars = self._sla_calendars({stay[1] for stay in stays})
        by_calendar = defaultdict(list)
        result = {}
        for stay in stays:
            spec = regulation.sla(stay[1], stay[2])
            if spec is None:
                result[stay[0]] = (None, None, None, 0.0)
            else:
                calendar = calendars[stay[1] or 0]
                by_calendar[calendar].append((stay, spec))
        for calendar, items in by_calendar.items():
            clock = (
                clock_for(calendar, [stay[3] for stay, _spec in items], items[0][1].hours)
                if calendar
                else None
            )
            planned = {}
            for (lead_id, _team, _stage, start, old_state), spec in items:
                key = (start, spec.hours, spec.warning_ratio)
                if key not in planned:
                    planned[key] = (
                        self._business_moment(clock, start, spec.hours),
                        self._business_moment(clock, start, spec.hours * spec.warning_ratio),
                    )
                deadline, warning_at = planned[key]
                result[lead_id] = (
                    deadline,
                    warning_at,
                    self._sla_state_at(now, deadline, warning_at, old_state),
                    spec.hours,
                )
        return result

    @api.model
    def _business_moment(self, clock, start, hours):
        """``hours`` business hours after ``start`` (calendar hours without a clock, or
        when the calendar has no working time)."""
        return (clock and clock.plan(start, hours)) or start + timedelta(hours=hours)

    def _sla_preset(self, stage_id, before, regulation):
        """SLA values of a move of all of ``self`` to ``stage_id``, computed before the
        write so that they go in its UPDATE: ({field: value}, (deadline, warning at,
        state, hours)), or None unless every lead is open, in another stage, and of the
        same team."""
        stage = regulation.stages.get(stage_id)
        if not stage or stage.is_won or not self._ids:
            return None
        if any(not before[lead_id][1] or before[lead_id][0] == stage_id for lead_id in self._ids):
            return None
        teams = self._regulation_field_caches(("team_id",))["team_id"]
        team_ids = {teams[lead_id] for lead_id in self._ids}
        if len(team_ids) != 1:
            return None
        now = self.env.cr.now().replace(microsecond=0)
        planned = self._sla_plan([(0, team_ids.pop(), stage_id, now, None)], regulation, now)[0]
        deadline, warning_at, state, _hours = planned
        values = {
            "sla_deadline": deadline or False,
            "sla_warning_at": warning_at or False,
            "sla_state": state or False,
        }
        return values, planned

    def _sla_sync(self, before, rows, regulation, from_lead=False, preset=None):
        """Start the SLA of the stays that begin with this create/write (a stage entered,
        a lead back to work or unarchived) and stop it for the leads that are won, lost
        or archived. ``before``/``rows`` as for the transitions; ``preset``: the SLA of
        the new stays when the write computed it. Returns {lead id: (deadline, hours)} of
        the new stays with an SLA, for their history rows."""
        if preset:
            # a move of all of ``self`` computed before the write and written with it
            deadline, _warning, _state, hours = preset
            return dict.fromkeys(self._ids, (deadline, hours)) if deadline else {}
        stages = regulation.stages
        now = self.env.cr.now().replace(microsecond=0)
        # sudo: SLA fields of the moved leads (system fields)
        caches = self.sudo()._regulation_field_caches(
            ("sla_deadline", "sla_warning_at", "sla_state")
            + (("date_last_stage_update",) if from_lead else ())
        )
        starting, stopping = [], []
        for lead_id, stage_id, active, _probability, team_id, _user, _company in rows:
            stage = stages.get(stage_id)
            running = bool(active and stage and not stage.is_won)
            old_stage, old_active, _old_lost = before.get(lead_id, (0, False, False))
            if running and (not old_active or old_stage != stage_id):
                start = ((from_lead and caches["date_last_stage_update"][lead_id]) or now).replace(
                    microsecond=0
                )
                starting.append((lead_id, team_id, stage_id, start, None))
            elif not running and caches["sla_state"][lead_id]:
                stopping.append(lead_id)
        planned = self._sla_plan(starting, regulation, now) if starting else {}
        groups = defaultdict(list)
        for lead_id, (deadline, warning_at, state, _hours) in planned.items():
            current = tuple(
                caches[fname][lead_id] for fname in ("sla_deadline", "sla_warning_at", "sla_state")
            )
            if current != (deadline, warning_at, state):
                groups[deadline, warning_at, state].append(lead_id)
        if stopping:
            groups[None, None, None] += stopping
        for (deadline, warning_at, state), lead_ids in groups.items():
            # sudo: SLA fields are system fields; values computed here
            self.browse(lead_ids).sudo().write(
                {
                    "sla_deadline": deadline or False,
                    "sla_warning_at": warning_at or False,
                    "sla_state": state or False,
                }
            )
        return {
            lead_id: (deadline, hours)
            for lead_id, (deadline, _warning, _state, hours) in planned.items()
            if deadline
        }

    @api.model
    def _sla_reschedule(self, scope=None, lead_ids=None):
        """Recompute the SLA of the open leads of ``scope`` ([(team id or None: every
        team, stage id or None: every stage)]) or of ``lead_ids``, from the start of their
        current stay, set-based: one query reads them, one clock per calendar computes,
        one statement per chunk writes the leads and their open stays. A lead that the
        new values put past its warning or deadline is left to the watcher, which
        notifies it once; a lead already notified keeps its state while it still holds."""
        if not scope and lead_ids is None:
            return 0
        conditions = []
        for team_id, stage_id in scope or ():
            condition = [SQL("TRUE")]
            if team_id:
                condition.append(SQL("l.team_id = %s", team_id))
            if stage_id:
                condition.append(SQL("l.stage_id = %s", stage_id))
            conditions.append(SQL("(%s)", SQL(" AND ").join(condition)))
        where = SQL(" OR ").join(conditions) if conditions else SQL("TRUE")
        if lead_ids is not None:
            where = SQL("(%s) AND l.id = ANY(%s)", where, list(lead_ids))
        self.flush_model()
        self.env["crm.lead.stage.history"].flush_model()
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        rows = self.env.execute_query(
            SQL(
                """SELECT l.id, l.team_id, l.stage_id,
                          COALESCE(h.date_in, l.date_last_stage_update, l.create_date),
                          l.sla_state, l.sla_deadline, l.sla_warning_at
                     FROM crm_lead l
                     JOIN crm_stage s ON s.id = l.stage_id AND s.is_won IS NOT TRUE
                LEFT JOIN crm_lead_stage_history h ON h.lead_id = l.id AND h.date_out IS NULL
                    WHERE l.active AND (%s)""",
                where,
            )
        )
        now = self.env.cr.now().replace(microsecond=0)
        planned = self._sla_plan(
            [(row[0], row[1], row[2], row[3].replace(microsecond=0), row[4]) for row in rows],
            regulation,
            now,
        )
        changes = [
            (lead_id, *values)
            for lead_id, _team, _stage, _start, old_state, old_deadline, old_warning in rows
            if (values := planned[lead_id])[:3] != (old_deadline, old_warning, old_state)
        ]
        for index in range(0, len(changes), RESCHEDULE_CHUNK):
            ids, deadlines, warnings, states, hours = (
                list(column)
                for column in zip(*changes[index : index + RESCHEDULE_CHUNK], strict=True)
            )
            self.env.cr.execute(
                SQL(
                    """WITH v AS MATERIALIZED (
                        SELECT * FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[],
                                             %s::varchar[], %s::float8[])
                                 AS v(id, deadline, warning_at, state, hours)
                    ), leads AS (
                        UPDATE crm_lead l
                           SET sla_deadline = v.deadline, sla_warning_at = v.warning_at,
                               sla_state = v.state
                          FROM v WHERE l.id = v.id
                    )
                    UPDATE crm_lead_stage_history h
                       SET sla_deadline = v.deadline, sla_hours = NULLIF(v.hours, 0),
                           sla_breached = COALESCE(v.state = 'breached', FALSE)
                      FROM v WHERE h.lead_id = v.id AND h.date_out IS NULL""",
                    ids,
                    deadlines,
                    warnings,
                    states,
                    hours,
                )
            )
        if changes:
            self.invalidate_model(["sla_deadline", "sla_warning_at", "sla_state"])
            self.env["crm.lead.stage.history"].invalidate_model(
                ["sla_deadline", "sla_hours", "sla_breached"]
            )
        return len(changes)

    @api.model
    def _sla_due_sql(self, now):
        """The SLA watcher's query: leads to warn (at risk) or to escalate (breached), on
        the two partial indexes of what is still to notify. The warning comes before the
        deadline: a lead on track whose deadline passed is found by its warning."""
        return SQL(
            """SELECT id FROM crm_lead
                WHERE (sla_state = 'on_track' AND sla_warning_at <= %(now)s)
                   OR (sla_state = 'at_risk' AND sla_deadline <= %(now)s)
                ORDER BY id""",
            now=now,
        )

    @api.model
    def _cron_sla_watcher(self, batch_size=WATCHER_BATCH):
        """Warn the salesperson of leads at risk of missing their stage deadline, and
        notify and act (activity, email or reassignment, per the stage's SLA) on those
        that missed it, recording the breach on the stay. One indexed query finds what
        is due; batches are locked, re-checked and committed with their state, so that
        nothing is notified twice. Then the business hours of closed stays that have
        none yet (mass moves, stays from before the install) are filled in batches."""
        now = fields.Datetime.now()
        due = [lead_id for (lead_id,) in self.env.execute_query(self._sla_due_sql(now))]
        return self._regulation_run_batches(due, batch_size, lambda leads: leads._sla_notify(now))

    def _sla_notify(self, now):
        """Warn (at risk) or escalate (breached) the leads of ``self`` still due at
        ``now`` (read again after the lock)."""
        leads = self.filtered(
            lambda lead: lead.active
            and lead.sla_deadline
            and (
                (lead.sla_state == "on_track" and lead.sla_warning_at <= now)
                or (lead.sla_state in ("on_track", "at_risk") and lead.sla_deadline <= now)
            )
        )
        breached = leads.filtered(lambda lead: lead.sla_deadline <= now)
        at_risk = leads - breached
        if at_risk:
            activity_type = self.env.ref("crm_regulation.mail_activity_type_sla")
            self._sla_schedule_activities(
                [(lead, lead.user_id or lead.team_id.user_id) for lead in at_risk],
                activity_type,
                lambda env, lead: env._(
                    "Move on before %s (stage deadline)", format_datetime(env, lead.sla_deadline)
                ),
            )
            at_risk.write({"sla_state": "at_risk"})
        if breached:
            breached._sla_escalate(now)

    def _sla_schedule_activities(self, assignments, activity_type, summary):
        """One activity per (lead, user) of ``assignments``, summary in the user's
        language, all created at once."""
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for lead, user in assignments:
            if not user:
                continue
            user_env = lead.with_user(user).with_context(lang=user.lang).env
            values_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": lead.id,
                    "activity_type_id": activity_type.id,
                    "summary": summary(user_env, lead),
                    "user_id": user.id,
                    "date_deadline": fields.Date.context_today(
                        lead.with_env(user_env), lead.sla_deadline
                    ),
                    "automated": True,
                }
            )
        if values_list:
            # sudo: the SLA watcher's escalation tasks (cron); values built here
            sudo_clean(self.env["mail.activity"]).with_context(
                mail_activity_quick_update=True
            ).create(values_list)

    def _sla_escalate(self, now):
        """The leads of ``self`` missed their stage deadline: notify whom their SLA says,
        do what it says, log it on the lead and record the breach on the stay."""
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        default = SlaSpec(0.0, 1.0, "both", "activity")
        activity_type = self.env.ref("crm_regulation.mail_activity_type_sla")
        template = self.env.ref("crm_regulation.mail_template_sla_breach")
        overdue = self._sla_overdue_hours(now)
        activities, emails, logs = [], defaultdict(list), {}
        reassign = defaultdict(list)
        for lead in self:
            spec = regulation.sla(lead.team_id.id, lead.stage_id.id) or default
            owner, leader = lead.user_id, lead.team_id.user_id
            recipients = {
                "owner": owner or leader,
                "leader": leader or owner,
                "both": owner | leader,
            }[spec.notify]
            if spec.action == "activity":
                activities += [(lead, user) for user in recipients]
            elif spec.action == "email":
                emails[tuple(recipients.partner_id.ids)].append(lead.id)
            elif leader and leader != owner:
                reassign[leader].append(lead.id)
            lang = (owner or leader).lang or self.env.lang
            env = lead.with_context(lang=lang).env
            action = {
                "activity": env._("an activity was scheduled"),
                "email": env._("an email was sent"),
                "reassign": env._("the lead was reassigned to the team leader")
                if leader and leader != owner
                else env._("the lead stays with the team leader"),
            }[spec.action]
            logs[lead.id] = Markup("<p>%s</p>") % env._(
                "Stage deadline passed: the lead has been in “%(stage)s” longer than its SLA "
                "of %(hours)s business hours (deadline %(deadline)s). Notified: "
                "%(recipients)s; %(action)s.",
                stage=lead.stage_id.with_env(env).name,
                hours=f"{spec.hours:g}" if spec.hours else "-",
                deadline=format_datetime(env, lead.sla_deadline),
                recipients=", ".join(recipients.mapped("name")) or env._("nobody"),
                action=action,
            )
        if activities:
            self._sla_schedule_activities(
                activities,
                activity_type,
                lambda env, lead: env._(
                    "Stage deadline passed on %s", format_datetime(env, lead.sla_deadline)
                ),
            )
        for partner_ids, lead_ids in emails.items():
            if partner_ids:
                template.send_mail_batch(
                    lead_ids, email_values={"recipient_ids": [Command.set(list(partner_ids))]}
                )
        for leader, lead_ids in reassign.items():
            self.browse(lead_ids).write({"user_id": leader.id})
        self._message_log_batch(logs)
        self.write({"sla_state": "breached"})
        self.env["crm.lead.stage.history"].flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE crm_lead_stage_history h
                      SET sla_breached = TRUE, sla_overdue_hours = v.hours
                     FROM unnest(%s::int[], %s::float8[]) AS v(lead_id, hours)
                    WHERE h.lead_id = v.lead_id AND h.date_out IS NULL""",
                list(overdue),
                list(overdue.values()),
            )
        )
        self.env["crm.lead.stage.history"].invalidate_model(["sla_breached", "sla_overdue_hours"])

    def _sla_overdue_hours(self, now):
        """{lead id: business hours from its stage deadline to ``now``}."""
        spent = self.env["crm.lead.stage.history"]._business_hours(
            [(lead.id, lead.team_id.id, lead.sla_deadline, now, None) for lead in self]
        )
        return {lead_id: max(hours, 0.0) for lead_id, (hours, _overdue) in spent.items()}

    # ------------------------------------------------------------
    # DUPLICATES AT CREATION
    # ------------------------------------------------------------

    def _regulation_find_originals(self):
        """{lead: open leads with the same email or phone} for the leads of ``self`` whose
        team checks duplicates: Odoo's duplicate criteria (normalized email, sanitized
        phone), open leads only (as ``_get_lead_duplicates``), in one search."""
        # sudo: duplicates are searched in every team (only what the user may read is named)
        leads = self.sudo().filtered(
            lambda lead: lead.team_id.duplicate_policy in ("warn", "block")
            and (lead.email_normalized or lead.phone_sanitized)
        )
        if not leads:
            return {}
        emails = {lead.email_normalized for lead in leads if lead.email_normalized}
        phones = {lead.phone_sanitized for lead in leads if lead.phone_sanitized}
        same = Domain.OR(
            [
                Domain("email_normalized", "in", list(emails)) if emails else Domain.FALSE,
                Domain("phone_sanitized", "in", list(phones)) if phones else Domain.FALSE,
            ]
        )
        companies = leads.company_id
        if any(not lead.company_id for lead in leads):
            companies |= self.env.companies
        new_ids = [lead_id for lead_id in leads._ids if isinstance(lead_id, int)]
        if not new_ids and leads._origin:
            new_ids = leads._origin.ids
        originals = (
            self.env["crm.lead"]
            # sudo: open leads of every team with the same email or phone (named only when readable)
            .sudo()
            .search(
                same
                & Domain("id", "not in", new_ids)
                & Domain("active", "=", True)
                & Domain("won_status", "=", "pending")
                # the leads' own companies (the user's for a lead without one yet): another
                # company's customers are not looked up
                & Domain("company_id", "in", [*companies.ids, False]),
                order="id",
            )
        )
        by_email = originals.grouped("email_normalized")
        by_phone = originals.grouped("phone_sanitized")
        # sudo: an empty recordset in the originals' environment
        empty = self.env["crm.lead"].sudo()
        result = {}
        for lead in leads:
            matches = (
                by_email.get(lead.email_normalized, empty) if lead.email_normalized else empty
            ) | (by_phone.get(lead.phone_sanitized, empty) if lead.phone_sanitized else empty)
            if matches:
                result[lead] = matches.sorted("id")
        return result

    def _regulation_describe_originals(self, originals):
        """The originals by name when the user may read them, else by owner only."""
        originals = originals[:5]
        readable = originals.with_env(self.env)._filtered_access("read")
        return ", ".join(
            self.env._(
                "“%(lead)s” (owner: %(user)s, team: %(team)s)",
                lead=original.display_name,
                user=original.user_id.name or self.env._("nobody"),
                team=original.team_id.name or "-",
            )
            if original in readable
            else self.env._(
                "a lead you cannot see (owner: %s)", original.user_id.name or self.env._("nobody")
            )
            for original in originals
        )

    def _regulation_check_duplicates(self):
        """New leads with the email or phone of an open lead: refused when their team
        blocks duplicates (leads of the mail gateway are only warned about: a customer's
        email is never dropped), else the original and its owner are named on the lead."""
        found = self._regulation_find_originals()
        if not found:
            return
        from_mail = self.env.cr.cache.get(MAIL_GATEWAY_KEY)
        blocked = [
            (lead, originals)
            for lead, originals in found.items()
            if lead.team_id.duplicate_policy == "block" and not from_mail
        ]
        if blocked:
            lines = [self.env._("These leads already exist; continue on the original leads:")]
            lines += [
                self.env._(
                    "• “%(lead)s” duplicates %(originals)s.",
                    lead=lead.display_name,
                    originals=self._regulation_describe_originals(originals),
                )
                for lead, originals in blocked[:MAX_LEADS_IN_ERROR]
            ]
            lines.append(self.env._("Nothing was created."))
            raise UserError("\n".join(lines))
        texts = []
        for lead, originals in found.items():
            text = self.env._(
                "Possible duplicate of %s.", self._regulation_describe_originals(originals)
            )
            texts.append(f"{lead.display_name}: {text}")
            lead._message_log(body=Markup("<p>%s</p>") % text)
        self.env.user._bus_send(
            "simple_notification",
            {
                "type": "warning",
                "title": self.env._("Possible duplicate"),
                "message": "\n".join(texts[:5]),
                "sticky": False,
            },
        )

    @api.onchange("email_from", "phone", "team_id")
    def _onchange_regulation_duplicates(self):
        found = self._regulation_find_originals()
        if not found:
            return None
        originals = next(iter(found.values()))
        if self.team_id.duplicate_policy == "block":
            message = self.env._(
                "This lead cannot be saved: it duplicates %s.",
                self._regulation_describe_originals(originals),
            )
        else:
            message = self.env._(
                "This lead may duplicate %s.", self._regulation_describe_originals(originals)
            )
        return {"warning": {"title": self.env._("Possible duplicate"), "message": message}}

    @api.model
    @api.private  # the mail gateway's entry: over RPC it would skip the duplicate policy
    def message_new(self, msg_dict, custom_values=None):
        previous = self.env.cr.cache.get(MAIL_GATEWAY_KEY)
        self.env.cr.cache[MAIL_GATEWAY_KEY] = True
        try:
            return super().message_new(msg_dict, custom_values=custom_values)
        finally:
            self.env.cr.cache[MAIL_GATEWAY_KEY] = previous

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    @contextmanager
    def _regulation_restoring(self):
        """Let these leads leave the lost state (returned to work with a reason, or won)."""
        restoring = self.env.cr.cache.setdefault(RESTORING_KEY, set())
        ids = set(self.ids) - restoring
        restoring.update(ids)
        try:
            yield
        finally:
            restoring.difference_update(ids)

    def _regulation_lost_not_restoring(self):
        restoring = self.env.cr.cache.get(RESTORING_KEY, ())
        return self.filtered(lambda lead: lead.won_status == "lost" and lead.id not in restoring)

    def action_unarchive(self):
        """Lost leads come back only with a reason: the "Return to Work" dialog."""
        lost = self._regulation_lost_not_restoring()
        if lost:
            others = self - lost
            if others:
                super(CrmLead, others).action_unarchive()
            return lost._regulation_restore_wizard_action()
        return super().action_unarchive()

    def action_restore(self):
        if self._regulation_lost_not_restoring():
            return self._regulation_restore_wizard_action()
        return super().action_restore()

    def action_set_won(self):
        # a lost lead may be won directly: that is not a return to work
        with self._regulation_restoring():
            return super().action_set_won()

    def _regulation_restore_wizard_action(self, review=False):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_lead_restore_action"
        )
        action["context"] = {
            "default_lead_ids": self.ids,
            "default_review": review,
            "dialog_size": "medium",
        }
        return action

    def action_return_to_work(self, reason):
        """Return lost or disqualified leads to work (over RPC too; ``reason`` required):
        restored in their stage, the return logged with its reason, a new stay opened in
        the stage history and the stale clock started again."""
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the leads return to work."))
        leads = self.with_context(active_test=False).filtered(
            lambda lead: lead.won_status == "lost" or not lead.active
        )
        if not leads:
            raise UserError(self.env._("Only lost or archived leads can return to work."))
        previous = {lead.id: lead.lost_reason_id.name or "-" for lead in leads}
        with leads._regulation_restoring():
            leads.action_restore()
        # sudo: system fields of leads just restored by the user; fixed values
        leads.sudo().write({"date_last_stage_update": self.env.cr.now(), "stale_date": False})
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("crm_regulation.mt_lead_returned")
        # sudo: the return note (the user's reason escaped in it)
        leads.sudo()._message_create(
            [
                {
                    "author_id": self.env.user.partner_id.id,
                    "model": self._name,
                    "res_id": lead.id,
                    "body": Markup("<p>%s</p><p>%s</p>")
                    % (
                        self.env._(
                            "Returned to work by %(user)s (closed as: %(reason)s). Why:",
                            user=self.env.user.name,
                            reason=previous[lead.id],
                        ),
                        reason,
                    ),
                    "message_type": "comment",
                    "subtype_id": subtype_id,
                    "is_internal": True,
                }
                for lead in leads
            ]
        )
        return True

    def _regulation_check_reviewer(self):
        """Head of sales and above, with the right to edit the reviewed leads."""
        if not self.env["res.users"]._crm_regulation_holds(MANAGER_GROUPS):
            raise AccessError(
                self.env._("Only the head of sales reviews losses and disqualifications.")
            )
        self.with_context(active_test=False).check_access("write")

    def _regulation_to_review(self):
        return self.with_context(active_test=False).filtered(
            lambda lead: lead.loss_review_state == "to_review"
        )

    def action_loss_review_confirm(self):
        """The loss or disqualification is right: it leaves the review queue."""
        self._regulation_check_reviewer()
        # sudo: review fields are system fields; the reviewer's write access checked above
        self._regulation_to_review().sudo().write(
            {
                "loss_review_state": "confirmed",
                "loss_reviewed_by_id": self.env.uid,
                "loss_review_date": self.env.cr.now(),
            }
        )
        return True

    def action_loss_review_return(self):
        """The loss or disqualification was wrong: return the leads to work (the dialog
        asks why)."""
        self._regulation_check_reviewer()
        leads = self._regulation_to_review()
        if not leads:
            raise UserError(self.env._("These leads are not waiting for a review."))
        return leads._regulation_restore_wizard_action(review=True)

    def _regulation_return_reviewed(self, reason):
        """Return to work from the review: the review records it."""
        self._regulation_check_reviewer()
        leads = self._regulation_to_review()
        if not leads:
            raise UserError(self.env._("These leads are not waiting for a review."))
        leads.action_return_to_work(reason)
        # sudo: review fields are system fields; the reviewer's write access checked first
        leads.sudo().write(
            {
                "loss_review_state": "returned",
                "loss_reviewed_by_id": self.env.uid,
                "loss_review_date": self.env.cr.now(),
            }
        )

    def action_set_lost(self, **additional_values):
        losing = self.env.cr.cache.setdefault(LOSING_KEY, set())
        ids = set(self.ids) - losing
        losing.update(ids)
        try:
            # crm returns None (from action_archive): True, so that XML-RPC can answer
            return super().action_set_lost(**additional_values) or True
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
