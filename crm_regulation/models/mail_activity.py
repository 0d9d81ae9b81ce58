"""Activity plans and types the regulation names (a stage's tasks on entry, the done
activities a rule requires): deleting one clears the cached regulation, which would
otherwise keep its id."""

from odoo import models


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
