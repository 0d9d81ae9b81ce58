"""Activity plans and types the regulation names (a stage's tasks on entry, the done
activities a rule requires): deleting one clears the cached regulation, which would
otherwise keep its id."""

from odoo import models


class MailActivityPlan(models.Model):
    _inherit = "mail.activity.plan"

    def unlink(self):
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        named = not regulation.plan_ids().isdisjoint(self.ids)
        result = super().unlink()
        if named:
            self.env.registry.clear_cache()
        return result


class MailActivityType(models.Model):
    _inherit = "mail.activity.type"

    def unlink(self):
        regulation = self.env["crm.regulation.rule"]._get_regulation()
        named = not regulation.activity_type_ids().isdisjoint(self.ids)
        result = super().unlink()
        if named:
            self.env.registry.clear_cache()
        return result
