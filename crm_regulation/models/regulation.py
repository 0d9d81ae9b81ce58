"""The sales regulation as plain data, without the ORM (like ``business_clock.py``).

* The **snapshot** of the configuration (``Regulation``: rules, stage shortcuts, reasons,
  SLAs), built by ``crm.regulation.rule._get_regulation`` and cached per registry. It holds
  only what the rules read: names and the order of the kanban columns are read when
  needed, so that renaming or resequencing does not clear every worker's cache
  (``crm.regulation.config.mixin``).
* What flows through the write path of ``crm.lead``: the state of a lead after a
  create/write (``LeadState``) and before it (``Before``), the regulated transitions, the
  requirements met or not, the SLA of the stays that start.
"""

from datetime import datetime
from typing import NamedTuple

from odoo.fields import Domain

# ------------------------------------------------------------
# The snapshot of the configuration
# ------------------------------------------------------------


class RuleSpec(NamedTuple):
    """An active rule as plain data."""

    id: int
    team_ids: frozenset
    from_stage_ids: frozenset
    target: str
    to_stage_id: int
    condition: Domain | None
    field_names: tuple
    required: Domain | None
    activity_type_ids: frozenset
    severity: str
    bypass_group_ids: frozenset

    @property
    def opens_move(self):
        """A rule naming both ends of a move allows it, even past "no skipping" or the
        allowed next stages of its origin (its requirements still apply)."""
        return self.target == "stage" and bool(self.from_stage_ids)


# the value checks a stage may ask of the leads entering it (``crm_lead_data_standard.py``):
# {check code: the stage's field}; "source" holds from the stage on (later stages too)
STAGE_CHECK_FIELDS = {
    "source": "source_required_from",
    "email": "check_email",
    "amount": "check_amount",
    "closing_date": "check_closing_date",
    "address": "check_address",
}


class StageSpec(NamedTuple):
    """A pipeline stage's regulation shortcuts as plain data."""

    id: int
    team_ids: frozenset
    is_won: bool
    field_names: tuple
    allowed_next_ids: frozenset
    no_skip: bool
    plan_id: int
    window_days: int
    checks: frozenset = frozenset()  # value checks of leads entering (``STAGE_CHECK_FIELDS``)


class ReasonSpec(NamedTuple):
    """A lost reason's category and requirements as plain data."""

    id: int
    category: str  # disqualification | loss
    requires_comment: bool
    requires_duplicate_of: bool


class SlaSpec(NamedTuple):
    """A stage SLA (the stage's own, or a team's override) as plain data."""

    hours: float
    warning_ratio: float
    notify: str  # owner | leader | both
    action: str  # activity | email | reassign


# the SLA of a breached lead whose stage has none any more
DEFAULT_SLA = SlaSpec(hours=0.0, warning_ratio=1.0, notify="both", action="activity")


# The regulation modes of a team (``crm.team.regulation_mode``): nothing of the regulation
# applies, everything is evaluated and recorded but nothing refused, or today's enforcement.
OFF, AUDIT, ENFORCE = "off", "audit", "enforce"
MODES = (OFF, AUDIT, ENFORCE)


class Regulation(NamedTuple):
    rules: tuple  # RuleSpec, in the rules' order
    stages: dict  # stage id -> StageSpec (every stage; their order: ``Pipelines``)
    enabled: bool  # anything to enforce or schedule at all
    reasons: dict  # lost reason id -> ReasonSpec (archived ones too)
    slas: dict  # (team id, stage id) -> SlaSpec; team id 0: the stage's own
    modes: dict  # team id -> regulation mode (archived teams too)
    company_modes: dict  # company id -> the mode of the leads without a team

    def mode(self, team_id, company_id):
        """The mode of a lead: its team's, else its company's default (the first
        company's for a lead without either)."""
        mode = self.modes.get(team_id) if team_id else None
        if mode is None:
            mode = self.company_modes.get(company_id) or next(
                iter(self.company_modes.values()), AUDIT
            )
        return mode

    def sla(self, team_id, stage_id):
        """The SLA of a lead of ``team_id`` in ``stage_id`` (None: none; never in a won
        stage: a won lead's SLA does not run)."""
        stage = self.stages.get(stage_id)
        if not stage or stage.is_won:
            return None
        spec = self.slas.get((team_id or 0, stage_id)) or self.slas.get((0, stage_id))
        return spec if spec and spec.hours > 0 else None

    def plan_ids(self):
        """The activity plans the stages schedule on entry."""
        return {stage.plan_id for stage in self.stages.values() if stage.plan_id}

    def activity_type_ids(self):
        """The activity types the rules require done."""
        return {type_id for rule in self.rules for type_id in rule.activity_type_ids}


class Pipelines:
    """The stages of each team's pipeline in the kanban order, read once per use (``order``:
    a callable returning every stage id in ``crm.stage``'s order) and only when a rule
    needs it (no skipping, the next stage, the qualification stage's rank)."""

    def __init__(self, regulation, order):
        self.regulation = regulation
        self._read_order = order
        self._order = None
        self._teams = {}

    @property
    def order(self):
        if self._order is None:
            self._order = [
                stage_id for stage_id in self._read_order() if stage_id in self.regulation.stages
            ]
        return self._order

    def of(self, team_id):
        """Stage ids of a team's pipeline, in order (shared stages included)."""
        if team_id not in self._teams:
            stages = self.regulation.stages
            self._teams[team_id] = [
                stage_id
                for stage_id in self.order
                if not stages[stage_id].team_ids or team_id in stages[stage_id].team_ids
            ]
        return self._teams[team_id]

    def rank(self):
        """{stage id: position in the order of every stage}."""
        return {stage_id: index for index, stage_id in enumerate(self.order)}


# ------------------------------------------------------------
# What flows through the write path of crm.lead
# ------------------------------------------------------------


class LeadState(NamedTuple):
    """A lead's values after a create/write, read from the ORM cache once per batch and
    shared by the regulation, the SLA, the qualification deadline and the stage history."""

    id: int
    stage_id: int | None
    active: bool
    probability: float
    team_id: int | None
    user_id: int | None
    company_id: int | None

    @property
    def lost(self):
        """Lost in crm's terms: archived at 0 %."""
        return not self.active and self.probability == 0


# the ORM fields behind LeadState (after the id)
STATE_FIELDS = LeadState._fields[1:]


class Before(NamedTuple):
    """A lead's state before a write, as the regulation compares it."""

    stage_id: int  # 0: no stage
    active: bool
    lost: bool
    mode: str | None = None  # the regulation mode of its team then (None: a new lead)


# a lead being created: from nowhere
NEW_LEAD = Before(stage_id=0, active=False, lost=False)


def strictest(*modes):
    """The strictest of regulation modes (None ignored): a write that changes a lead's team
    and its stage at once is judged by the stricter of the two teams' modes."""
    return max((mode for mode in modes if mode), key=MODES.index)


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
    mode: str = ENFORCE  # the regulation mode of the lead (``Regulation.mode``)


class Requirement(NamedTuple):
    """One requirement of the regulation for one transition, met or not."""

    text: str  # what must hold (checklist)
    missing: str  # what is wrong when it does not (refusal, warning)
    met: bool
    severity: str  # block | warn
    rule_id: int  # 0: a stage shortcut
    bypassed: bool = False
    source: str = "stage"  # what requires it, without a rule: stage | closing | duplicate


class SlaStay(NamedTuple):
    """A stay whose SLA is to be planned."""

    lead_id: int
    team_id: int | None
    stage_id: int
    start: datetime
    old_state: str | None  # the lead's SLA state so far (None: a new stay)
    company_id: int | None = None


class SlaPlan(NamedTuple):
    """The SLA of a stay: deadline, warning, state now, target hours."""

    deadline: datetime | None
    warning_at: datetime | None
    state: str | None
    hours: float


NO_SLA = SlaPlan(deadline=None, warning_at=None, state=None, hours=0.0)


class SlaStart(NamedTuple):
    """The SLA a new stay of the history starts with."""

    deadline: datetime | None
    hours: float | None


NO_SLA_START = SlaStart(deadline=None, hours=None)


class Span(NamedTuple):
    """A period of a stay to count in business hours (the team's working hours)."""

    key: int
    team_id: int | None
    date_in: datetime
    date_out: datetime
    deadline: datetime | None


class SpanHours(NamedTuple):
    hours: float  # business hours from date in to date out
    overdue: float  # business hours past the deadline (0 without one)


class Names:
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


class Evaluation:
    """What one evaluation of the regulation shares: names, field caches, texts, the
    pipelines' order."""

    def __init__(self, env, caches, unmet_only, pipelines):
        self.env = env
        self.names = Names(env)
        self.caches = caches
        self.unmet_only = unmet_only
        self.pipelines = pipelines
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
        items.append(
            Requirement(
                text=text,
                missing=missing,
                met=met,
                severity=severity,
                rule_id=rule_id,
                bypassed=bypassed and not met,
            )
        )
