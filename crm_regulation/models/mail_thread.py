from odoo import SUPERUSER_ID, api, models
from odoo.exceptions import AccessError

# set by the mail gateway's entry point on every incoming e-mail: True when the caller is the
# system (the fetchmail cron, the mailgate of an administrator), False when any other user
# feeds an e-mail through it over RPC (Odoo lets every user call it)
GATEWAY_TRUSTED = "crm_regulation_gateway_trusted"


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    @api.model
    def message_process(
        self,
        model,
        message,
        custom_values=None,
        save_original=False,
        strip_attachments=False,
        thread_id=None,
    ):
        """Mark whether the caller of the gateway is the system: what the revival program
        does on an incoming e-mail (a reply revives a lead, a new lead revives the customer's
        lead in revival) is only done for it. The caller's own context value is
        overwritten."""
        trusted = self.env.su or self.env.uid == SUPERUSER_ID or self.env.user._is_system()
        if not trusted and self.env["res.users"]._crm_regulation_governed():
            # Odoo runs the gateway as superuser and routes by the e-mail's headers and
            # aliases (``model`` is only a fallback): fed by a user over RPC, it would create
            # or post on leads past their rights (custom values, another's lead)
            raise AccessError(
                self.env._(
                    "Only the mail gateway processes incoming e-mails: create the lead, or "
                    "post on it, from the CRM."
                )
            )
        return super(MailThread, self.with_context(**{GATEWAY_TRUSTED: trusted})).message_process(
            model,
            message,
            custom_values=custom_values,
            save_original=save_original,
            strip_attachments=strip_attachments,
            thread_id=thread_id,
        )
