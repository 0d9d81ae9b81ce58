from odoo import api, models


class CrmRegulationConfigMixin(models.AbstractModel):
    """Configuration the regulation caches per registry (``crm.regulation.rule.
    _get_regulation``): any change clears that cache, here and in the other workers."""

    _name = "crm.regulation.config.mixin"
    _description = "Sales Regulation Configuration"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
