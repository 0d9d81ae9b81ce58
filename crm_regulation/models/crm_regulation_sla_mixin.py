from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Settings of a stage SLA: a change reschedules the open leads concerned.
SLA_FIELDS = frozenset({"sla_hours", "sla_warning_ratio", "sla_notify", "sla_action"})


class CrmRegulationSlaMixin(models.AbstractModel):
    """The settings of a stage SLA, shared by the stage (every team) and a team's
    override of it (``crm.stage.sla``)."""

    _name = "crm.regulation.sla.mixin"
    _description = "Stage SLA Settings"

    sla_hours = fields.Float(
        string="SLA (Business Hours)",
        help="Target time of a lead in this stage, in the working hours of its team (the "
        "company's when the team has none). 0: no SLA.",
    )
    sla_warning_ratio = fields.Float(
        string="At Risk After",
        default=0.8,
        help="Share of the target after which the lead is at risk and its salesperson is "
        "warned (0.8 = after 80% of the target).",
    )
    sla_notify = fields.Selection(
        [("owner", "Salesperson"), ("leader", "Team Leader"), ("both", "Both")],
        string="On Breach, Notify",
        default="both",
        required=True,
    )
    sla_action = fields.Selection(
        [
            ("activity", "Schedule an Activity"),
            ("email", "Send an Email"),
            ("reassign", "Reassign to the Team Leader"),
        ],
        string="On Breach",
        default="activity",
        required=True,
        help="What happens when a lead passes the target: an activity for the people "
        "notified, an email to them, or the lead given to the team leader (both told in "
        "the chatter).",
    )

    @api.constrains("sla_hours", "sla_warning_ratio")
    def _check_sla_settings(self):
        for record in self:
            if record.sla_hours < 0:
                raise ValidationError(
                    self.env._(
                        "“%s”: the SLA is a number of business hours, it cannot be negative.",
                        record.display_name,
                    )
                )
            if not 0 < record.sla_warning_ratio <= 1:
                raise ValidationError(
                    self.env._(
                        "“%s”: the share of the SLA after which a lead is at risk must be "
                        "more than 0 and at most 1 (e.g. 0.8 for 80%%).",
                        record.display_name,
                    )
                )
            if record.sla_hours:
                for team in record._sla_teams():
                    team._regulation_check_calendar(team._regulation_calendar())

    def _sla_teams(self):
        """The teams whose leads this SLA applies to."""
        raise NotImplementedError

    def _sla_scope(self):
        """[(team id or None for every team, stage id)] of the leads this SLA applies to."""
        raise NotImplementedError

    # fields that move the SLA to other leads (their old place is rescheduled too)
    _sla_scope_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if any(vals.get("sla_hours") for vals in vals_list):
            records._sla_changed()
        return records

    def write(self, vals):
        moved = set(self._sla_scope_fields).intersection(vals)
        old_scope = self._sla_scope() if moved else []
        result = super().write(vals)
        if moved or SLA_FIELDS.intersection(vals):
            self._sla_changed(old_scope)
        return result

    def unlink(self):
        scope = self._sla_scope()
        result = super().unlink()
        self.env["crm.lead"]._sla_reschedule(scope)
        return result

    def _sla_changed(self, old_scope=()):
        # the regulation cache must see the new settings first
        self.env.registry.clear_cache()
        self.env["crm.lead"]._sla_reschedule(list(old_scope) + self._sla_scope())
