from odoo import api, models
from odoo.exceptions import AccessError
from odoo.fields import Command

from .caller_values import ids_commands

# The regulation's record on a lead: bypasses, warnings, returns to work. Odoo lets whoever
# may edit a document edit or delete its messages; these are kept as they were written.
AUDIT_SUBTYPES = (
    "crm_regulation.mt_regulation_bypass",
    "crm_regulation.mt_regulation_warning",
    "crm_regulation.mt_lead_returned",
)
# Relations of a message that callers name by id only: Odoo writes them (partly) as
# superuser, so a command in them would create or change partners with its rights.
ID_FIELDS = ("partner_ids", "notified_partner_ids", "starred_partner_ids")


class MailMessage(models.Model):
    _inherit = "mail.message"

    @api.model
    def _regulation_caller_values(self, vals, creating):
        """Partners by id; tracking values only created with a new message (as Odoo's
        tracking does), never linked, changed or deleted (they are the record's history)."""
        vals = dict(vals)
        for fname in ID_FIELDS:
            if fname in vals:
                vals[fname] = ids_commands(self.env, fname, vals[fname])
        trackings = vals.get("tracking_value_ids") or ()
        if (trackings and not creating) or any(
            not (isinstance(command, (list, tuple)) and command[0] == Command.CREATE)
            for command in trackings
        ):
            raise AccessError(
                self.env._("The tracked changes of a message are not changed by hand.")
            )
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            vals_list = [self._regulation_caller_values(vals, True) for vals in vals_list]
        messages = super().create(vals_list)
        # a done activity, a message sent to the customer: maybe a lead's first contact.
        # Told from the values (no read per message): tracking messages, notifications and
        # e-mails received cost nothing
        candidates = [
            message.id
            for message, vals in zip(messages, vals_list, strict=True)
            if vals.get("model") == "crm.lead"
            and vals.get("res_id")
            and (vals.get("mail_activity_type_id") or vals.get("message_type") == "comment")
        ]
        if candidates:
            # sudo: the leads' first contact (a system field), from the messages just created
            self.env["crm.lead"].sudo()._first_contact_touch(self.sudo().browse(candidates))
        return messages

    def write(self, vals):
        if not self.env.su:
            vals = self._regulation_caller_values(vals, False)
        return super().write(vals)

    def _check_access(self, operation):
        result = super()._check_access(operation)
        if operation not in ("write", "unlink") or self.env.su or self.env.is_system():
            return result
        subtypes = {self.env["ir.model.data"]._xmlid_to_res_id(x) for x in AUDIT_SUBTYPES}
        candidates = self - result[0] if result else self
        # sudo: the subtype of messages being checked (no caller value)
        protected = candidates.sudo().filtered(lambda m: m.subtype_id.id in subtypes)
        if not protected:
            return result
        forbidden = self.browse(protected.ids)
        if result:
            return result[0] + forbidden, result[1]
        return forbidden, lambda: forbidden._make_access_error(operation)
