from odoo import api, fields, models
from odoo.exceptions import UserError


class CrmLostReason(models.Model):
    _name = "crm.lost.reason"
    _inherit = [
        "crm.lost.reason",
        "crm.regulation.config.mixin",
        "crm.regulation.column.defaults.mixin",
    ]
    # what the cached regulation reads of a reason (not its name)
    _regulation_snapshot_fields = ("category", "requires_comment", "requires_duplicate_of")

    category = fields.Selection(
        [("disqualification", "Disqualification"), ("loss", "Loss")],
        required=True,
        default="loss",
        help="Disqualification: the lead was never a real opportunity (spam, duplicate, "
        "existing customer…); it is left out of conversion figures. Loss: a real "
        "opportunity lost to price, a competitor, no budget…",
    )
    requires_comment = fields.Boolean(
        string="Requires a Closing Note",
        help="Leads cannot be closed with this reason without a closing note.",
    )
    requires_duplicate_of = fields.Boolean(
        string="Requires the Original Lead",
        help="Leads closed with this reason must name the lead they duplicate.",
    )
    revivable = fields.Boolean(
        default=True,
        help="Leads closed with this reason may enter a revival program (never for spam).",
    )

    def write(self, vals):
        result = super().write(vals)
        if "category" in vals:
            # the outcome of the leads closed with these reasons follows
            self.env["crm.lead"]._regulation_outcome_follow_reasons(self)
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        counts = dict(
            self.env["crm.lead"]
            # sudo: count the leads using the reasons, in every team
            .sudo()
            .with_context(active_test=False)
            ._read_group([("lost_reason_id", "in", self.ids)], ["lost_reason_id"], ["__count"])
        )
        if counts:
            raise UserError(
                self.env._(
                    "These reasons are used by leads and cannot be deleted; archive them "
                    "instead: %s.",
                    ", ".join(
                        self.env._("“%(reason)s” (%(count)s leads)", reason=r.name, count=c)
                        for r, c in counts.items()
                    ),
                )
            )
