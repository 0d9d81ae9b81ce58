"""The data standard on leads: the phone in the company's (or the team's) format, the
company name split from its legal form (``crm.data.standard.mixin``)."""

from odoo import api, models


# one capability a file (crm_lead.py says which)
class CrmLeadDataStandard(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.data.standard.mixin"]  # pylint: disable=consider-merging-classes-inherited

    _data_standard_name_field = "partner_name"

    @api.depends("partner_name")
    def _compute_company_key(self):
        return super()._compute_company_key()

    def _data_standard_company_name(self):
        return self.partner_name or ""

    def _data_standard_values(self, vals):
        Company, Team = self.env["res.company"], self.env["crm.team"]
        context = self.env.context
        company = (
            Company.browse(vals["company_id"])
            if vals.get("company_id")
            else self.company_id or Company.browse(context.get("default_company_id"))
        ) or self.env.company
        team = (
            Team.browse(vals["team_id"])
            if "team_id" in vals
            else self.team_id or Team.browse(context.get("default_team_id"))
        )
        country = (
            self.env["res.country"].browse(vals["country_id"])
            if vals.get("country_id")
            else self.country_id
        )
        if not country:
            partner = (
                self.env["res.partner"].browse(vals["partner_id"])
                if vals.get("partner_id")
                else self.partner_id
            )
            # sudo: the country of the lead's customer only (which country a number is of)
            country = partner.sudo().country_id
        # sudo: the company's and team's standard, configuration every user's entries follow
        company, team = company.sudo(), team.sudo()
        return company, team, country or company.country_id
