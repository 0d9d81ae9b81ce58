"""Lead sources, media and campaigns from a fixed list: under the role matrix only marketers
and CRM administrators create or rename them; salespeople pick from the list (the form,
import and the API alike). The sources Odoo creates for a record of its own (a mailing, a
link: ``utm.source.mixin``) are not the list's entries: created freely, renamed with their
record while no lead names them."""

from odoo import api, models
from odoo.exceptions import AccessError

from .cursor_flags import UTM_OWN_SOURCE, flag, flagged

# who keeps the list (besides the superuser and users outside the role matrix)
UTM_EDITOR_GROUPS = ("crm_regulation.group_marketer", "crm_regulation.group_crm_admin")


class UtmListMixin(models.AbstractModel):
    _name = "crm.regulation.utm.list.mixin"
    _description = "UTM List Kept by Marketers"
    # the lead field naming the list's entries (a source in use is never renamed by others)
    _crm_regulation_lead_field = None

    def _crm_regulation_check_utm_editor(self, renaming=False):
        env = self.env
        if env.su:
            return
        if flagged(env, UTM_OWN_SOURCE) and not (
            renaming
            # sudo: whether any lead names these sources (a count, no values returned)
            and env["crm.lead"]
            .sudo()
            .with_context(active_test=False)
            .search_count([(self._crm_regulation_lead_field, "in", self.ids)], limit=1)
        ):
            # a record's own source (a mailing's): created, or renamed while no lead uses it
            return
        if not env["res.users"]._crm_regulation_governed():
            return
        if any(env.user.has_group(xmlid) for xmlid in UTM_EDITOR_GROUPS):
            return
        raise AccessError(
            env._(
                "Only marketers and CRM administrators add or rename %(what)s: pick one from "
                "the list, or ask them to add it. Nothing was saved.",
                what=self._description,
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        self._crm_regulation_check_utm_editor()
        return super().create(vals_list)

    def write(self, vals):
        self._crm_regulation_check_utm_editor(renaming=True)
        return super().write(vals)


class UtmSource(models.Model):
    _name = "utm.source"
    _inherit = ["utm.source", "crm.regulation.utm.list.mixin"]
    _crm_regulation_lead_field = "source_id"


class UtmMedium(models.Model):
    _name = "utm.medium"
    _inherit = ["utm.medium", "crm.regulation.utm.list.mixin"]
    _crm_regulation_lead_field = "medium_id"


class UtmCampaign(models.Model):
    _name = "utm.campaign"
    _inherit = ["utm.campaign", "crm.regulation.utm.list.mixin"]
    _crm_regulation_lead_field = "campaign_id"


class UtmSourceMixin(models.AbstractModel):
    _inherit = "utm.source.mixin"

    @api.model_create_multi
    def create(self, vals_list):
        with flag(self.env, UTM_OWN_SOURCE):
            return super().create(vals_list)

    def write(self, vals):
        with flag(self.env, UTM_OWN_SOURCE):
            return super().write(vals)
