from odoo import api, models


class CrmRegulationConfigMixin(models.AbstractModel):
    """Configuration the regulation caches per registry (``crm.regulation.rule.
    _get_regulation``; the role matrix's scopes for team memberships). Creating or deleting
    a record, or changing a field the cache reads (``_regulation_snapshot_fields``), clears
    it, here and in the other workers; changing anything else (a name, a message, the
    order of the kanban columns) keeps every worker's cache."""

    _name = "crm.regulation.config.mixin"
    _description = "Sales Regulation Configuration"
    # the fields of the model that the cache reads (every model declares its own)
    _regulation_snapshot_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        if not set(self._regulation_snapshot_fields).isdisjoint(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
