import functools

from odoo import models
from odoo.fields import Domain

SCOPE_FIELD = "regulation_scope"


def searches_scope(domain):
    """Whether ``domain`` has a condition on the role matrix's scope of leads, directly
    (``regulation_scope``) or through a relation (``lead_id.regulation_scope``, ``any``)."""
    for condition in domain.iter_conditions():
        if condition.field_expr.rsplit(".", 1)[-1] == SCOPE_FIELD:
            return True
        if isinstance(condition.value, Domain) and searches_scope(condition.value):
            return True
    return False


class CrmRegulationScopeMixin(models.AbstractModel):
    """Records whose record rules search the role matrix's scopes: leads, and what hangs off
    a lead (stage history, reports, activity analysis), whose rules say
    ``[('lead_id.regulation_scope', '=', 'readable')]``.

    Odoo checks the record rules of records in memory (``filtered_domain``), which cannot
    run the search method of ``crm.lead.regulation_scope``: such rules are checked in SQL
    instead, one query for the whole recordset."""

    _name = "crm.regulation.scope.mixin"
    _description = "Role Matrix: Scoped Records"

    def _check_access(self, operation):
        ids = self._ids
        if self.env.su or not ids or not all(isinstance(id_, int) for id_ in ids):
            return super()._check_access(operation)
        if not self.env["ir.model.access"].check(self._name, operation, raise_exception=False):
            return super()._check_access(operation)
        Rule = self.env["ir.rule"]
        domain = Rule._compute_domain(self._name, operation)
        if not searches_scope(domain):
            return super()._check_access(operation)
        # sudo: the rule domain itself is the filter; the scope search reads env.uid
        query = (
            self.sudo().with_context(active_test=False)._search(Domain("id", "in", ids) & domain)
        )
        allowed = set(query.get_result_ids())
        forbidden = self.browse(id_ for id_ in ids if id_ not in allowed)
        if forbidden:
            return forbidden, functools.partial(Rule._make_access_error, operation, forbidden)
        return None
