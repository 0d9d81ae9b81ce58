"""crm.lead: the fields the regulation's capabilities share, and the create/write path that
runs them, top to bottom. Each capability lives in a file of its own:

* ``crm_lead_regulation.py``: transition rules, stage shortcuts, won criteria, checklist,
  tasks on entering a stage;
* ``crm_lead_outcome.py``: disqualification vs loss, the loss review, return to work;
* ``crm_lead_qualification.py``, ``crm_lead_stale.py``, ``crm_lead_sla.py``: the deadlines
  and their watchers;
* ``crm_lead_duplicates.py``: duplicates at creation;
* ``crm_lead_first_contact.py``: the first contact with the customer;
* ``crm_lead_access.py``: the role matrix;
* ``crm_lead_data_standard.py``: phones and company names to the data standard on entry.

The stage history is written by ``crm.lead.stage.history._sync_leads`` only.
"""

from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError

from .cursor_flags import SYSTEM_WRITE, UNTRACKED, flag, flagged, pushed, stack
from .regulation import STATE_FIELDS, Before, LeadState
from .watcher_batches import run_locked_batches

# Fields whose change can start or end a stay in a stage. A probability set to 0 matters
# too: an archived lead becomes lost that way (crm.lead.action_set_lost archives first).
STAY_FIELDS = frozenset({"stage_id", "active"})
# Fields whose change can be a regulated transition (enter a stage, be won, be lost).
TRANSITION_FIELDS = frozenset({"stage_id", "active", "probability"})
# Fields that state why a lead was lost: their requirements are checked when they change.
REASON_FIELDS = frozenset({"lost_reason_id", "duplicate_of_id", "lost_feedback"})
# Fields kept by the regulation itself (write path, watchers, review): not writable by hand.
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
        "first_contact_date",
        "first_contact_hours",
    }
)
# Leads handled per committed batch by the watchers: the batch's leads stay locked until
# its commit, so a salesperson moving one of them waits for the rest of the batch (under
# load, 500 leads held the write path for up to 2.8 s; 50 keep it under half a second).
WATCHER_BATCH = 50
# The tracked fields of the regulation that change only by a write that names them (plain
# stored fields, no relation the database may clear): that write reads their value before
# it for the tracking (mail.thread keeps the first value of a transaction), so a write that
# does not name them leaves them out of its tracking: 4 field reads fewer per lead of a
# stage move. (A later write of them with tracking turned off is not tracked either.)
PLAIN_TRACKED_FIELDS = frozenset(
    {"contract_signed", "contract_date", "first_payment_date", "loss_review_state"}
)


class CrmLead(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    stage_history_ids = fields.One2many("crm.lead.stage.history", "lead_id", readonly=True)
    stage_history_count = fields.Integer(compute="_compute_stage_history_count")
    # won criteria: rules targeting "won" usually require these
    contract_signed = fields.Boolean(tracking=True, copy=False)
    contract_date = fields.Date(tracking=True, copy=False)
    first_payment_date = fields.Date(tracking=True, copy=False)

    def _compute_stage_history_count(self):
        counts = dict(
            self.env["crm.lead.stage.history"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.stage_history_count = counts.get(lead, 0)

    # ------------------------------------------------------------
    # ORM: the write path of every capability, in one place
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any(SYSTEM_FIELDS.intersection(vals) for vals in vals_list):
            raise AccessError(self._regulation_system_fields_error())
        vals_list = self._data_standard_create(vals_list)
        leads = super().create(vals_list)
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        states = leads._regulation_states()
        transitions = leads._regulation_transitions({}, states, regulation)
        # A lead created with a given stage (import, RPC, a form opened in a column) is judged
        # like a move into it. One that gets its team's first stage by default (web form,
        # mail gateway, lead generation) is not refused for lacking what that stage asks: the
        # checklist shows it. Its entry tasks are scheduled either way.
        explicit = {
            lead.id for lead, vals in zip(leads, vals_list, strict=True) if vals.get("stage_id")
        }
        leads._regulation_enforce(
            [t for t in transitions if t.lead_id in explicit or t.lost], regulation
        )
        leads._regulation_check_duplicates()
        updates = defaultdict(dict)  # {lead id: {system field: value}}, written at once
        leads._regulation_sync_outcome(regulation, updates)
        sla = leads._sla_sync({}, states, regulation, updates, from_lead=True)
        leads._qualification_start(states, regulation, updates)
        leads._regulation_write_system(updates)
        self.env["crm.lead.stage.history"]._sync_leads(leads, states, sla, date_in_from_lead=True)
        leads._regulation_schedule_entry_activities(transitions, regulation)
        leads._revival_from_new_leads()
        return leads

    def write(self, vals):
        if not self.env.su and SYSTEM_FIELDS.intersection(vals):
            raise AccessError(self._regulation_system_fields_error())
        vals = self._data_standard_write(vals)
        if not (TRANSITION_FIELDS.intersection(vals) or REASON_FIELDS.intersection(vals)):
            untracked = PLAIN_TRACKED_FIELDS.difference(vals)
            if flagged(self.env, SYSTEM_WRITE):
                # the review a new loss is put up for is no news of its own (the loss is
                # tracked); the review's decisions are
                untracked = untracked | {"loss_review_state"}
            with pushed(self.env, UNTRACKED, untracked):
                result = super().write(vals)
            if "team_id" in vals:
                self._sla_follow_team()
            return result
        # the scoring frequencies crm learns from a win or loss: updated at the end
        with self._pls_deferred():
            regulation = self.env["crm.regulation.rule"]._get_regulation()
            before = self._regulation_before(regulation)
            # a stage move of open leads of one team: their new SLA goes in crm's UPDATE
            sla_preset = self._sla_preset(vals, before, regulation)
            with pushed(self.env, UNTRACKED, PLAIN_TRACKED_FIELDS.difference(vals)):
                result = super().write({**vals, **sla_preset.values} if sla_preset else vals)
            states = self._regulation_states()
            transitions = self._regulation_transitions(
                before, states, regulation, "probability" in vals
            )
            # after the write, so that values written with the move count (e.g. a mass edit of
            # the stage and a required field): a refusal rolls the write back
            self._regulation_enforce(transitions, regulation)
            if REASON_FIELDS.intersection(vals):
                # the reason of a lead already lost changes: its requirements still hold
                lost = self._regulation_lost_already(before, states, transitions, regulation)
                self._regulation_enforce(lost, regulation, rules=False)
            became_lost = vals.get("probability", 1) == 0
            moved = became_lost or bool(STAY_FIELDS.intersection(vals))
            updates = defaultdict(dict)  # {lead id: {system field: value}}, written at once
            self._regulation_sync_outcome(regulation, updates)
            sla = self._sla_sync(before, states, regulation, updates, sla_preset) if moved else {}
            self._regulation_after_transitions(transitions, states, regulation, updates)
            self._regulation_write_system(updates)
            if moved:
                self.env["crm.lead.stage.history"]._sync_leads(
                    self, states, sla, became_lost=became_lost
                )
            if "team_id" in vals:
                self._sla_follow_team()
            self._regulation_schedule_entry_activities(transitions, regulation)
            return result

    def _track_prepare(self, fields_iter):
        untracked = stack(self.env, UNTRACKED)
        if untracked:  # the plain tracked fields the write in progress leaves alone
            fields_iter = [fname for fname in fields_iter if fname not in untracked[-1]]
        return super()._track_prepare(fields_iter)

    def _regulation_system_fields_error(self):
        return self.env._(
            "The qualification, stale, SLA and loss review fields of leads are kept by the "
            "sales regulation: they cannot be written directly."
        )

    def _regulation_write_system(self, updates):
        """Write the system fields the capabilities computed for a create/write ({lead id:
        {field: value}}): one write per set of equal values, whatever the capabilities."""
        groups = defaultdict(list)
        for lead_id, values in updates.items():
            if values:
                groups[tuple(sorted(values.items()))].append(lead_id)
        with flag(self.env, SYSTEM_WRITE):
            for values, lead_ids in groups.items():
                # sudo: system fields; values computed by the write path, not given by the caller
                self.browse(lead_ids).sudo().write(dict(values))

    # ------------------------------------------------------------
    # Lead values from the ORM cache (one pass over the batch)
    # ------------------------------------------------------------

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
        # once per lead, even when the caller repeats ids (``write([5, 5], ...)`` over RPC)
        return [
            (record_id, *(cache[record_id] for cache in caches))
            for record_id in dict.fromkeys(self._ids)
        ]

    def _regulation_states(self):
        """[LeadState] of ``self``, as the ORM cache holds them now."""
        return list(map(LeadState._make, self._regulation_cache_values(STATE_FIELDS)))

    def _regulation_before(self, regulation):
        """{lead id: Before} ahead of a write (crm's write reads the same fields: cached;
        the company only for the leads without a team, whose mode is their company's)."""
        rows = self._regulation_cache_values(("stage_id", "active", "probability", "team_id"))
        companies = {}
        if any(not team_id for *_values, team_id in rows):
            companies = self._regulation_field_caches(("company_id",))["company_id"]
        return {
            lead_id: Before(
                stage_id=stage_id or 0,
                active=active,
                lost=not active and probability == 0,
                mode=regulation.mode(team_id, companies.get(lead_id)),
            )
            for lead_id, stage_id, active, probability, team_id in rows
        }

    # ------------------------------------------------------------
    # The watchers' batches (qualification, stale leads, SLA)
    # ------------------------------------------------------------

    @api.model
    def _regulation_run_batches(self, lead_ids, batch_size, process):
        """Run ``process`` on locked batches of ``lead_ids`` (``run_locked_batches``)."""
        return run_locked_batches(self, lead_ids, batch_size, process)

    def action_view_stage_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_lead_stage_history_action"
        )
        action["domain"] = [("lead_id", "=", self.id)]
        action["context"] = {"default_lead_id": self.id}
        action["display_name"] = self.env._("Stage history of %s", self.display_name)
        return action
