"""Legal forms of companies (ООО, LLC, GmbH, ...): split off company names on entry so that
«ООО «Ромашка»» and "Ромашка, ООО" are one company (``data_standard.split_company_name``).
Shipped for Russia and English-speaking countries; each company keeps the shared list and
adds or archives forms of its own."""

from odoo import api, fields, models, tools


class CrmLegalForm(models.Model):
    _name = "crm.legal.form"
    _description = "Legal Form of Companies"
    _order = "sequence, name"

    name = fields.Char(
        string="Legal Form",
        required=True,
        help="As it is written in company names, e.g. ООО, LLC, Ltd.",
    )
    full_name = fields.Char(translate=True, help="What the abbreviation stands for.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    country_id = fields.Many2one("res.country", help="Where the form is used (information).")
    company_id = fields.Many2one(
        "res.company",
        index=True,
        ondelete="cascade",
        help="Empty: the form is split off in every company (kept by the system "
        "administrators); else in this company only.",
    )

    _name_company_unique = models.UniqueIndex(
        "(lower(name), COALESCE(company_id, 0))", "This legal form is already in the list."
    )

    @api.model
    @tools.ormcache("company_id")
    def _forms_for(self, company_id):
        """The forms split off the company names of ``company_id``, longest first (a long
        form is matched before its abbreviation's prefix)."""
        # sudo: the list of forms is configuration every user's entries are split with
        forms = self.sudo().search([("company_id", "in", [company_id or False, False])])
        return tuple(
            sorted(
                {form.name.strip() for form in forms if form.name.strip()},
                key=lambda n: (-len(n), n),
            )
        )

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
