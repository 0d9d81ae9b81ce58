"""Outcome of a lead: disqualification vs loss (``outcome``, from crm's won/lost state and
the reason's category), what closing and reopening a lead requires, the loss review by
the head of sales, and the return to work with a reason."""

from contextlib import contextmanager

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL
from odoo.tools.mail import is_html_empty

from .crm_regulation_violation import Violation
from .cursor_flags import (
    LOSING,
    PLS_DEFERRED,
    PLS_PENDING,
    PLS_REBUILD,
    PLS_RECLASSIFY,
    RESTORING,
    flag,
    flagged,
    pushed,
    stack,
)
from .regulation import ENFORCE, Requirement, Transition
from .res_users import MANAGER_GROUPS


# one capability a file (crm_lead.py says which)
class CrmLeadOutcome(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

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

    @api.constrains("duplicate_of_id")
    def _check_duplicate_of(self):
        if any(lead.duplicate_of_id == lead for lead in self):
            raise ValidationError(self.env._("A lead cannot be the duplicate of itself."))

    def _regulation_sync_outcome(self, regulation, updates):
        """Keep ``outcome`` (won / lost / disqualified / open) and the loss review in step
        with crm's won/lost state and the reason's category: a new loss or disqualification
        is to be reviewed; leaving the lost state forgets an unfinished or confirmed review
        (a lead returned to work by its review keeps that mark). Maintained here rather than
        as a computed field, so that a stage move of open leads (crm recomputes
        ``won_status`` on every move) writes nothing more. Values added to ``updates``."""
        # sudo: the regulation's own bookkeeping fields of these leads
        caches = self.sudo()._regulation_field_caches(
            ("won_status", "lost_reason_id", "outcome", "loss_review_state")
        )
        reclassified = {"disqualified": [], "lost": []}
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
            if {old, outcome} == {"lost", "disqualified"}:
                reclassified[outcome].append(lead_id)
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
            updates[lead_id].update(values)
        # a lost lead's reason changed category: predictive lead scoring learnt from it as
        # lost (now disqualified) or not (now lost)
        with flag(self.env, PLS_RECLASSIFY):
            self.browse(reclassified["disqualified"])._pls_increment_frequencies(from_state="lost")
            self.browse(reclassified["lost"])._pls_increment_frequencies(to_state="lost")

    def _regulation_lost_already(self, before, states, transitions, regulation):
        """Transitions standing for leads that were lost before a write and still are."""
        judged = {transition.lead_id for transition in transitions}
        return [
            Transition(
                lead_id=state.id,
                team_id=state.team_id or 0,
                from_stage_id=state.stage_id or 0,
                to_stage_id=state.stage_id or 0,
                entered=False,
                move=False,
                won=False,
                lost=True,
                mode=regulation.mode(state.team_id, state.company_id),
            )
            for state in states
            if state.id not in judged and before[state.id].lost and state.lost
        ]

    def _regulation_outcome_requirements(self, transitions, regulation, evaluation, result):
        """Closing and reopening a lead: a lost lead has a reason and what its reason
        requires (a closing note, the original lead); a lost lead returns to work only
        with a reason (the "Return to Work" dialog)."""
        env = self.env
        caches = evaluation.caches
        restoring = flagged(env, RESTORING)
        texts = {}

        def add(items, key, met):
            if met and evaluation.unmet_only:
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
            items.append(
                Requirement(
                    text=text,
                    missing=missing,
                    met=met,
                    severity="block",
                    rule_id=0,
                    source="closing",
                )
            )

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

    def _regulation_closing_violations(self, text):
        """[Violation] of the enforced leads of ``self`` whose closing the lost dialog
        refuses (``text``: what is missing)."""
        # sudo: the name, team, salesperson and company of the leads being closed (log values)
        leads = self.sudo()
        return [Violation.of_lead(lead, "closing", text, ENFORCE, "refused") for lead in leads]

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def _regulation_restoring(self):
        """Let these leads leave the lost state (returned to work with a reason, or won)."""
        return flag(self.env, RESTORING, self.ids)

    def _regulation_lost_not_restoring(self):
        """The lost leads of ``self`` that the regulation lets back only with a reason (in
        audit mode, a return without one is logged by the write path)."""
        restoring = flagged(self.env, RESTORING)
        return self._regulation_in_mode(ENFORCE).filtered(
            lambda lead: lead.won_status == "lost" and lead.id not in restoring
        )

    def action_unarchive(self):
        """Lost leads come back only with a reason: the "Return to Work" dialog."""
        lost = self._regulation_lost_not_restoring()
        if lost:
            others = self - lost
            if others:
                super(CrmLeadOutcome, others).action_unarchive()
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
        leads = self._regulation_to_review()
        # sudo: review fields are system fields; the reviewer's write access checked above
        leads.sudo().write(
            {
                "loss_review_state": "confirmed",
                "loss_reviewed_by_id": self.env.uid,
                "loss_review_date": self.env.cr.now(),
            }
        )
        leads._revival_enroll()  # a confirmed loss enters its revival program
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
        with flag(self.env, LOSING, self.ids):
            # crm returns None (from action_archive): True, so that XML-RPC can answer
            result = super().action_set_lost(**additional_values) or True
        # without a loss review, a lost lead enters its revival program at once
        self.with_context(active_test=False).filtered(
            lambda lead: lead.team_id and not lead.team_id.loss_review
        )._revival_enroll()
        return result

    @api.model
    def _regulation_outcome_follow_reasons(self, reasons):
        """The leads closed with ``reasons`` follow their new category (set-based). Leads
        whose outcome is already right are not rewritten (the install's data file sets
        Odoo's "Too expensive" to a loss, what its leads already are: a no-op rewrite of
        every lead lost for that reason otherwise)."""
        reasons.flush_recordset(["category"])
        self.flush_model(["outcome", "lost_reason_id", "won_status"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_lead l
                   SET outcome = CASE r.category WHEN 'disqualification' THEN 'disqualified'
                                 ELSE 'lost' END
                  FROM crm_lost_reason r
                 WHERE r.id = l.lost_reason_id AND r.id = ANY(%s) AND l.won_status = 'lost'
                   AND l.outcome IS DISTINCT FROM CASE r.category
                       WHEN 'disqualification' THEN 'disqualified' ELSE 'lost' END
             RETURNING l.id, l.outcome
                """,
                reasons.ids,
            )
        )
        changed = self.env.cr.fetchall()
        self.invalidate_model(["outcome"])
        # predictive lead scoring: a lead now disqualified was learnt from as lost, a lead
        # now lost was not
        with flag(self.env, PLS_RECLASSIFY):
            self.browse(
                i for i, outcome in changed if outcome == "disqualified"
            )._pls_increment_frequencies(from_state="lost")
            self.browse(
                i for i, outcome in changed if outcome == "lost"
            )._pls_increment_frequencies(to_state="lost")

    # ------------------------------------------------------------
    # Predictive lead scoring learns from sales outcomes: a disqualification is none
    # ------------------------------------------------------------

    def _pls_increment_frequencies(self, from_state=None, to_state=None):
        """crm counts a lead reaching or leaving the lost state in the scoring
        frequencies: a disqualified one is left out (reaching it: its reason is a
        disqualification; leaving it: its outcome, not updated yet, is disqualified)."""
        applying = flagged(self.env, PLS_DEFERRED)  # leads filtered when deferred
        if "lost" in (from_state, to_state) and not (applying or flagged(self.env, PLS_RECLASSIFY)):
            reasons = self.env["crm.regulation.rule"]._get_regulation().reasons
            if to_state == "lost":
                # sudo: the category of the leads' reasons (read for the scoring)
                lost_reasons = self.sudo()._regulation_field_caches(("lost_reason_id",))
                self = self.browse(
                    lead_id
                    for lead_id in self._ids
                    if getattr(reasons.get(lost_reasons["lost_reason_id"][lead_id]), "category", "")
                    != "disqualification"
                )
            else:
                # sudo: the outcome of the leads (read for the scoring)
                outcomes = self.sudo()._regulation_field_caches(("outcome",))["outcome"]
                self = self.browse(
                    lead_id for lead_id in self._ids if outcomes[lead_id] != "disqualified"
                )
        if not self:
            return None
        deferred = stack(self.env, PLS_PENDING)
        if deferred and not applying:  # a write of the regulation in progress: at its end
            deferred[-1].append((self, from_state, to_state))
            return None
        return super()._pls_increment_frequencies(from_state=from_state, to_state=to_state)

    @contextmanager
    def _pls_deferred(self):
        """The scoring frequencies a write learns from (crm updates them in the middle of
        it) are updated at the end of the block. Their rows are the hottest of a busy
        pipeline: every win and loss of a team updates the same ones, and a transaction
        that updates one after another transaction committed it fails to serialize and
        is replayed by Odoo. The later in the write they are locked, the shorter they stay
        locked (the regulation's own work is done before). Nested writes leave theirs to
        the outermost block, once they are done; a failed block applies nothing."""
        outer = stack(self.env, PLS_PENDING)
        outer = outer[-1] if outer else None  # (held here: a savepoint's rollback clears
        pending = []  # the cursor's cache)
        with pushed(self.env, PLS_PENDING, pending):
            yield
        if outer is not None:  # a nested write done: its increments are the outer one's
            outer.extend(pending)
            return
        with flag(self.env, PLS_DEFERRED):
            for leads, from_state, to_state in pending:
                leads._pls_increment_frequencies(from_state=from_state, to_state=to_state)

    def _pls_prepare_update_frequency_table(self, rebuild=False, target_state=False):
        if not rebuild:
            return super()._pls_prepare_update_frequency_table(target_state=target_state)
        # the rebuild reads every closed lead: not the disqualified ones
        with flag(self.env, PLS_REBUILD):
            return super()._pls_prepare_update_frequency_table(
                rebuild=rebuild, target_state=target_state
            )

    def _pls_get_lead_pls_values(self, domain=None):
        if domain and flagged(self.env, PLS_REBUILD):
            domain = Domain.AND([domain, [("outcome", "!=", "disqualified")]])
        return super()._pls_get_lead_pls_values(domain=domain)
