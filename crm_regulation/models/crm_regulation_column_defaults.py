from odoo import models
from odoo.tools import SQL

MODULE = "crm_regulation"


class CrmRegulationColumnDefaults(models.AbstractModel):
    """Odoo's own tables that the addon adds columns to (teams, companies, stages, lost
    reasons): each added column with a plain default gets it in the database too. Rows
    inserted by code that does not know the addon (another module's data or tests loaded
    before it, an upgrade of crm, an integration's SQL) then get the addon's default,
    rather than breaking on a required column or starting with an empty setting."""

    _name = "crm.regulation.column.defaults.mixin"
    _description = "Sales Regulation: Database Defaults"

    def _auto_init(self):
        result = super()._auto_init()
        for field in self._fields.values():
            if (
                getattr(field, "_module", None) != MODULE
                or not field.store
                or not field.column_type
                or field.relational
                or field.company_dependent
                or field.default is None
            ):
                continue
            # one column per read: a default reading the company runs before the company's
            # own new columns exist (an upgrade that adds some)
            value = field.default(self.with_context(prefetch_fields=False).browse())
            if value is None or not isinstance(value, (str, bool, int, float)):
                continue
            self.env.cr.execute(
                SQL(
                    "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s",
                    SQL.identifier(self._table),
                    SQL.identifier(field.name),
                    value,
                )
            )
        return result
