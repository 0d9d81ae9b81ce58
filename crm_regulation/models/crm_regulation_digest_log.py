"""The sending log of the sales digests: one line per recipient and period, written with
the e-mail in one transaction (``digest.digest._crm_send_once``, its only writer)."""

from odoo import fields, models


class CrmRegulationDigestLog(models.Model):
    """One line per digest sent: the recipient, the period; unique, so that nobody gets a
    period's digest twice."""

    _name = "crm.regulation.digest.log"
    _description = "Sales Digest Sent"
    _order = "id desc"

    digest_id = fields.Many2one(
        "digest.digest", required=True, ondelete="cascade", index=True, readonly=True
    )
    user_id = fields.Many2one(
        "res.users", string="Recipient", required=True, ondelete="cascade", readonly=True
    )
    period_start = fields.Date(required=True, readonly=True)
    period_end = fields.Date(required=True, readonly=True)
    mail_id = fields.Many2one("mail.mail", string="E-mail", ondelete="set null", readonly=True)
    state = fields.Selection(
        [("sent", "Sent"), ("failed", "Failed")], required=True, default="sent", readonly=True
    )
    attempts = fields.Integer(default=1, readonly=True)
    error = fields.Text(readonly=True)

    _once_per_period = models.Constraint(
        "UNIQUE (digest_id, user_id, period_start)",
        "A recipient gets a digest once per period.",
    )
