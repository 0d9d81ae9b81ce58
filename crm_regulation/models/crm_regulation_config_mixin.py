from odoo import api, models
from odoo.exceptions import AccessError


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
    # a head of sales edits the records of their own teams (``_regulation_team_scope``)
    _regulation_head_editable = False

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._regulation_check_head_scope()
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        self._regulation_check_head_scope()
        result = super().write(vals)
        self._regulation_check_head_scope()  # (the teams it was given)
        if not set(self._regulation_snapshot_fields).isdisjoint(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        self._regulation_check_head_scope()
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def _regulation_team_scope(self):
        """[team ids] of each record of ``self``, for the configuration a head of sales
        edits for their own teams (transition rules, team SLAs: the models that set
        ``_regulation_head_editable``; the others are the sales administrators' only, the
        record rules say who may edit at all)."""
        return [[] for _record in self]

    def _regulation_check_head_scope(self):
        """A head of sales (not a sales administrator) edits the configuration of the teams
        of their tree only, before and after the change: every team of the record, archived
        or of another company included, is theirs (a record of every team is not)."""
        Users = self.env["res.users"]
        if (
            not self._regulation_head_editable
            or self.env.su
            or not self
            or not Users._crm_regulation_head_limited()
        ):
            return
        # sudo: the teams of the records being edited, archived or of other companies too
        scopes = self.sudo().with_context(active_test=False)._regulation_team_scope()
        allowed = set(Users._crm_regulation_head_team_ids())
        if any(not team_ids or not allowed.issuperset(team_ids) for team_ids in scopes):
            raise AccessError(
                self.env._(
                    "A head of sales edits the regulation of their own teams and sub-teams "
                    "only; what applies to every team or to other teams stays with the sales "
                    "administrators."
                )
            )
