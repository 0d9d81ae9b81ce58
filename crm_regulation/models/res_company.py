from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .caller_values import sudo_clean
from .crm_team import REGULATION_MODES
from .data_standard import PHONE_FORMATS, PHONE_OFF, PHONE_STANDARDS, phone_library


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "crm.regulation.column.defaults.mixin"]

    crm_sensitive_field_ids = fields.Many2many(
        "ir.model.fields",
        "crm_regulation_company_sensitive_field_rel",
        "company_id",
        "field_id",
        string="Sensitive Lead Fields",
        domain=[("model", "=", "crm.lead")],
        help="Lead fields hidden from the Marketer and Support roles, on top of the expected "
        "revenue, probability, internal notes and won criteria.",
    )

    crm_regulation_mode = fields.Selection(
        REGULATION_MODES,
        string="Regulation Mode of Leads Without a Team",
        required=True,
        default="audit",
        help="The regulation mode of the leads that have no sales team, and of new teams.",
    )
    crm_role_matrix_for_sales_groups = fields.Boolean(
        string="Role Matrix for Odoo's Sales Groups",
        help="Apply the role matrix to the users of Odoo's own Sales groups too (who hold "
        "none of the regulation's roles): salespeople see the unassigned leads of their own "
        "teams only, only heads of sales reassign and export leads, merged leads are "
        "archived rather than deleted. Off: those users keep Odoo's own rights.",
    )
    crm_first_contact_activity_type_ids = fields.Many2many(
        "mail.activity.type",
        "crm_regulation_company_first_contact_type_rel",
        "company_id",
        "type_id",
        string="First Contact Activities",
        default=lambda self: self._crm_first_contact_default_types(),
        help="A lead's first contact is the first done activity of these types, or the first "
        "message sent to the customer from the lead.",
    )
    crm_access_max_days = fields.Integer(
        string="Temporary Access: Longest (Days)",
        default=90,
        help="The longest a temporary CRM access may last, counted from the request. 0: no limit.",
    )

    # the data standard (``crm_lead_data_standard.py``, ``res_partner_data_standard.py``)
    crm_phone_standard = fields.Selection(
        PHONE_STANDARDS,
        string="Phone Standard",
        required=True,
        default=PHONE_OFF,
        help="How phones of leads and contacts are entered: kept as typed; formatted, with "
        "invalid numbers kept and flagged; or formatted, with invalid numbers refused. A "
        "sales team may choose otherwise for its leads.",
    )
    crm_phone_format = fields.Selection(
        PHONE_FORMATS,
        string="Phone Format",
        required=True,
        default="regulation",
        help="How the phone field shows a valid number. Duplicates are matched on the E.164 "
        "form whatever the format.",
    )
    crm_company_name_display = fields.Selection(
        [("typed", "As typed"), ("without_form", "Without the legal form")],
        string="Company Names",
        required=True,
        default="typed",
        help="Company names are always split from their legal form (its own field) so that "
        "duplicates match. As typed: the name keeps what the user typed. Without the legal "
        "form: the name is stored without it and without quotes.",
    )

    crm_rights_audit_month = fields.Date(
        string="Rights Audit Sent For",
        readonly=True,
        help="The month whose rights audit e-mail went to the company's CRM administrators.",
    )

    @api.constrains("crm_phone_standard")
    def _check_crm_phone_standard(self):
        if not phone_library() and any(c.crm_phone_standard != PHONE_OFF for c in self):
            raise ValidationError(
                self.env._(
                    "The phone standard needs the Python library phonenumbers on the server "
                    "(pip install phonenumbers). Ask your system administrator."
                )
            )

    def _crm_rights_audit_send(self):
        """The flagged users of this company to its CRM administrators, in their language
        (nothing when nobody is flagged)."""
        self.ensure_one()
        # sudo: the audit's rows of this company (the cron's snapshot) and its recipients
        flagged = (
            self.env["crm.rights.audit"]
            .sudo()
            .search([("company_id", "=", self.id), ("flagged", "=", True)])
        )
        # sudo: the company's CRM administrators (the e-mail's recipients)
        admins = (
            self.env.ref("crm_regulation.group_crm_admin")
            .sudo()
            .all_user_ids.filtered(lambda u: u.active and self in u.company_ids and u.email)
        )
        if not flagged or not admins:
            return
        sender = self.partner_id.email_formatted or self.env.ref("base.user_root").email_formatted
        for admin in admins:
            rows = flagged.with_context(lang=admin.lang)
            # sudo: queue the e-mail (mail.mail is the system's); every value computed here
            sudo_clean(self.env["mail.mail"]).create(
                {
                    "auto_delete": True,
                    "author_id": self.env.ref("base.partner_root").id,
                    "body_html": rows._mail_body(),
                    "email_from": sender,
                    "email_to": admin.email_formatted,
                    "subject": rows.env._(
                        "%(company)s: %(count)s users with more rights than their CRM role",
                        company=self.name,
                        count=len(flagged),
                    ),
                    "state": "outgoing",
                }
            )

    @api.model
    def _crm_first_contact_default_types(self):
        """A call or a meeting."""
        return [
            activity_type.id
            for xmlid in ("mail.mail_activity_data_call", "mail.mail_activity_data_meeting")
            if (activity_type := self.env.ref(xmlid, raise_if_not_found=False))
        ]

    @api.constrains("crm_access_max_days")
    def _check_crm_access_max_days(self):
        if any(company.crm_access_max_days < 0 for company in self):
            raise ValidationError(
                self.env._("The longest temporary access cannot be a negative number of days.")
            )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        if any(vals.get("crm_role_matrix_for_sales_groups") for vals in vals_list):
            self.env.registry.clear_cache()
            self.env["ir.rule"]._crm_regulation_sync_stock_rules()
        return companies

    def write(self, vals):
        if "crm_regulation_mode" in vals:
            self.env["crm.team"]._regulation_check_mode(vals["crm_regulation_mode"])
        result = super().write(vals)
        if {
            "crm_sensitive_field_ids",
            "crm_regulation_mode",
            "crm_role_matrix_for_sales_groups",
        }.intersection(vals):
            self.env.registry.clear_cache()
        if "crm_role_matrix_for_sales_groups" in vals:
            self.env["ir.rule"]._crm_regulation_sync_stock_rules()
        if "crm_first_contact_activity_type_ids" in vals:
            # the leads not contacted yet may have been, by the types now counted
            self.env["crm.lead"]._first_contact_backfill()
        if "crm_regulation_mode" in vals:
            # the SLAs of the open leads without a team start or stop with the regulation
            Lead = self.env["crm.lead"]
            Lead._sla_reschedule(
                # sudo: the open leads without a team of these companies (their SLA)
                lead_ids=Lead.sudo()
                .search([("team_id", "=", False), ("company_id", "in", [False, *self.ids])])
                .ids
            )
        return result
