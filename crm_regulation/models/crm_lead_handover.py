"""Leavers' hand-over (the role matrix, part 2): a salesperson's open leads, their
activities and the revival enrollments they own go to another member of the lead's team, or
back to the team unassigned (the team's assignment picks them up), in one batch, posted on
each lead. Run with the caller's rights: a head of sales hands over the leads they may
write; the stage history keeps who owned each past stay."""

from collections import defaultdict

from markupsafe import Markup

from odoo import api, models
from odoo.exceptions import AccessError, UserError

# who hands over (and only the leads their rights let them write)
HANDOVER_GROUPS = "crm_regulation.group_head_of_sales,sales_team.group_sale_manager"


class CrmLeadHandover(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _regulation_hand_over(self, leaver, target=None):
        """Hand ``leaver``'s open leads over: to ``target`` where they are a member (or the
        leader) of the lead's team, else unassigned in the team. Returns the leads."""
        if not self.env["res.users"]._crm_regulation_holds(HANDOVER_GROUPS):
            raise AccessError(self.env._("Only heads of sales hand a salesperson's work over."))
        if target and target == leaver:
            raise UserError(self.env._("Hand the work over to someone else than the leaver."))
        if target and not (
            target.active
            and not target.share
            and target.has_group("sales_team.group_sale_salesman")
        ):
            raise UserError(
                self.env._("%s does not sell: hand the work over to a salesperson.", target.name)
            )
        domain = [("user_id", "=", leaver.id), ("outcome", "=", "open")]
        Users = self.env["res.users"]
        if not Users._crm_regulation_holds("sales_team.group_sale_manager"):
            # a head of sales: their teams and sub-teams only, whatever other role adds
            domain.append(("team_id", "in", list(Users._crm_regulation_head_team_ids())))
        leads = self.search(domain)
        leads.check_access("write")
        by_owner = defaultdict(lambda: self.browse())
        for lead in leads:
            team = lead.team_id
            takes = (
                target
                and team
                and target in team.member_ids | team.user_id
                and (not lead.company_id or lead.company_id in target.company_ids)
            )
            by_owner[target if takes else self.env["res.users"]] |= lead
        for owner, batch in by_owner.items():
            batch._regulation_hand_over_batch(leaver, owner)
        self._revival_hand_over(leaver, target)
        return leads

    def _regulation_hand_over_batch(self, leaver, owner):
        """These leads of ``leaver`` to ``owner`` (none: back to their team), with the
        leaver's tasks on them (to the team leader when unassigned: the caller when the
        leaver led the team), said on each lead."""
        self.write({"user_id": owner.id})
        # sudo: the leaver's tasks on these leads (escalations too, which the caller may
        # write: checked above) follow the leads
        Activity = self.env["mail.activity"].sudo()
        tasks = Activity.search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "in", self.ids),
                ("user_id", "=", leaver.id),
            ]
        )
        leads = {lead.id: lead for lead in self}

        def new_user(task):
            leader = leads[task.res_id].team_id.user_id
            return owner or (leader if leader and leader != leaver else self.env.user)

        for user, user_tasks in tasks.grouped(new_user).items():
            user_tasks.write({"user_id": user.id})
        if owner:
            text = self.env._(
                "Handed over by %(author)s: from %(leaver)s to %(owner)s.",
                author=self.env.user.name,
                leaver=leaver.name,
                owner=owner.name,
            )
        else:
            text = self.env._(
                "Handed over by %(author)s: from %(leaver)s back to the team, unassigned.",
                author=self.env.user.name,
                leaver=leaver.name,
            )
        self._message_log_batch(bodies=dict.fromkeys(self.ids, Markup("<p>%s</p>") % text))
