"""Activity plans and types the regulation names (a stage's tasks on entry, the done
activities a rule requires): deleting one clears the cached regulation, which would
otherwise keep its id.

Colleagues' tasks (the role matrix): below head of sales, nobody edits, reschedules, marks
done or deletes an activity of a lead assigned to someone else, even on a lead they may
write; the escalations of the regulation (SLA, qualification) are closed by their assignee
only, whoever they are. The system (crons, the regulation's own paths) is not limited."""

from odoo import api, models
from odoo.exceptions import AccessError

# the regulation's escalations: closed by their assignee only
ESCALATION_TYPES = (
    "crm_regulation.mail_activity_type_sla",
    "crm_regulation.mail_activity_type_qualify",
)
# who changes the tasks of others on leads (with the rights on the leads)
TASK_MANAGERS = "crm_regulation.group_head_of_sales,sales_team.group_sale_manager"


class CrmRegulationNamedMixin(models.AbstractModel):
    _name = "crm.regulation.named.mixin"
    _description = "Record Named by the Sales Regulation"

    def _regulation_named_ids(self, regulation):
        """The ids of this model that ``regulation`` names."""
        raise NotImplementedError

    def unlink(self):
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        named = not self._regulation_named_ids(regulation).isdisjoint(self.ids)
        result = super().unlink()
        if named:
            self.env.registry.clear_cache()
        return result


class MailActivityPlan(models.Model):
    _name = "mail.activity.plan"
    _inherit = ["mail.activity.plan", "crm.regulation.named.mixin"]

    def _regulation_named_ids(self, regulation):
        return regulation.plan_ids()


class MailActivityType(models.Model):
    _name = "mail.activity.type"
    _inherit = ["mail.activity.type", "crm.regulation.named.mixin"]

    def _regulation_named_ids(self, regulation):
        return regulation.activity_type_ids()


class MailActivity(models.Model):
    _inherit = "mail.activity"

    @api.model_create_multi
    def create(self, vals_list):
        activities = super().create(vals_list)
        if not self.env.su and activities.activity_type_id.filtered(
            lambda type_: type_.id in self._regulation_escalation_type_ids()
        ):
            raise AccessError(self.env._("Only the regulation schedules its escalations."))
        return activities

    def write(self, vals):
        self._regulation_check_tasks("write")
        return super().write(vals)

    def unlink(self):
        self._regulation_check_tasks("unlink")
        return super().unlink()

    @api.model
    def _regulation_escalation_type_ids(self):
        return [
            type_.id
            for xmlid in ESCALATION_TYPES
            if (type_ := self.env.ref(xmlid, raise_if_not_found=False))
        ]

    def _regulation_check_tasks(self, operation):
        """Refuse changing or closing the activities of others (see the module's doc). A
        merge of leads moves them as the system (crm_lead_access: _merge_dependences)."""
        if self.env.su or not self:
            return
        # sudo: the assignee, document and type of the activities the user changes
        others = self.sudo().filtered(lambda a: a.user_id and a.user_id.id != self.env.uid)
        if not others:
            return
        escalation_types = self._regulation_escalation_type_ids()
        escalation = others.filtered(lambda a: a.activity_type_id.id in escalation_types)[:1]
        on_leads = others.filtered(lambda a: a.res_model == "crm.lead")[:1]
        Users = self.env["res.users"]
        lower = (
            on_leads
            and Users._crm_regulation_governed()
            and not Users._crm_regulation_holds(TASK_MANAGERS)
        )
        if escalation or lower:
            # Odoo's own refusal first: the message names nothing the user may not read
            self.check_access(operation)
        if escalation:
            raise AccessError(
                self.env._(
                    "Only %(user)s, to whom the escalation “%(summary)s” is assigned, closes "
                    "or changes it.",
                    user=escalation.user_id.name,
                    summary=escalation.summary or escalation.activity_type_id.name,
                )
            )
        if lower:
            raise AccessError(
                self.env._(
                    "The activity “%(summary)s” is assigned to %(user)s: only they or a head of "
                    "sales change, reschedule, mark done or delete it.",
                    summary=on_leads.summary or on_leads.activity_type_id.name,
                    user=on_leads.user_id.name,
                )
            )


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    def unlink(self):
        # an event's activities go with it (a cascade of the database, not their unlink)
        self.with_context(active_test=False).activity_ids._regulation_check_tasks("unlink")
        return super().unlink()
