from odoo import models


class MailTrackingValue(models.Model):
    _inherit = "mail.tracking.value"

    def _filter_free_field_access(self):
        """What Odoo shows to every recipient (web push notifications): never the sensitive
        fields of leads, which the Marketer and Support roles may not read."""
        trackings = super()._filter_free_field_access()
        lead_trackings = trackings.filtered(lambda t: t.field_id.model == "crm.lead")
        if not lead_trackings:
            return trackings
        sensitive = self.env["crm.lead"]._regulation_sensitive_fields()
        return trackings - lead_trackings.filtered(lambda t: t.field_id.name in sensitive)
