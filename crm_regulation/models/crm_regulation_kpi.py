"""The KPIs a team puts on its dashboard (and, later, a digest shows): one record per KPI code
of the engine, named by the engine's own labels (translated), so that the standard
many2many widgets choose among them."""

from odoo import api, fields, models

from .crm_kpi_target import KPI_CODES


class CrmRegulationKpi(models.Model):
    _name = "crm.regulation.kpi"
    _description = "Sales KPI"
    _order = "sequence, id"
    _rec_name = "code"

    code = fields.Selection(KPI_CODES, string="KPI", required=True, readonly=True)
    sequence = fields.Integer(default=10)

    _code_unique = models.Constraint("UNIQUE (code)", "A KPI is listed once.")

    @api.depends("code")
    def _compute_display_name(self):
        labels = dict(self._fields["code"]._description_selection(self.env))
        for kpi in self:
            kpi.display_name = labels.get(kpi.code, kpi.code)
