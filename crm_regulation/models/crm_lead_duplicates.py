"""Duplicates at creation: a new lead with the e-mail or phone of an open lead is refused
or flagged, as its team's duplicate policy says (leads of the mail gateway are only
flagged: a customer's e-mail is never dropped)."""

from markupsafe import Markup

from odoo import api, models
from odoo.exceptions import UserError
from odoo.fields import Domain

from .crm_lead_regulation import MAX_LEADS_IN_ERROR
from .crm_regulation_violation import Violation
from .cursor_flags import MAIL_GATEWAY, flag, flagged
from .mail_thread import GATEWAY_TRUSTED
from .regulation import ENFORCE, OFF


# one capability a file (crm_lead.py says which)
class CrmLeadDuplicates(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    def _regulation_find_originals(self):
        """{lead: open leads with the same email or phone} for the leads of ``self`` whose
        team checks duplicates: Odoo's duplicate criteria (normalized email, sanitized
        phone), open leads only (as ``_get_lead_duplicates``), in one search."""
        # sudo: duplicates are searched in every team (only what the user may read is named)
        leads = self.sudo().filtered(
            lambda lead: lead.team_id.duplicate_policy in ("warn", "block")
            and lead.team_id.regulation_mode != OFF
            and (lead.email_normalized or lead.phone_sanitized)
        )
        if not leads:
            return {}
        emails = {lead.email_normalized for lead in leads if lead.email_normalized}
        phones = {lead.phone_sanitized for lead in leads if lead.phone_sanitized}
        same = Domain.OR(
            [
                Domain("email_normalized", "in", list(emails)) if emails else Domain.FALSE,
                Domain("phone_sanitized", "in", list(phones)) if phones else Domain.FALSE,
            ]
        )
        companies = leads.company_id
        if any(not lead.company_id for lead in leads):
            companies |= self.env.companies
        new_ids = [lead_id for lead_id in leads._ids if isinstance(lead_id, int)]
        if not new_ids and leads._origin:
            new_ids = leads._origin.ids
        originals = (
            self.env["crm.lead"]
            # sudo: open leads of every team with the same email or phone (named only when readable)
            .sudo()
            .search(
                same
                & Domain("id", "not in", new_ids)
                & Domain("active", "=", True)
                & Domain("won_status", "=", "pending")
                # the leads' own companies (the user's for a lead without one yet): another
                # company's customers are not looked up
                & Domain("company_id", "in", [*companies.ids, False]),
                order="id",
            )
        )
        by_email = originals.grouped("email_normalized")
        by_phone = originals.grouped("phone_sanitized")
        # sudo: an empty recordset in the originals' environment
        empty = self.env["crm.lead"].sudo()
        result = {}
        for lead in leads:
            matches = (
                by_email.get(lead.email_normalized, empty) if lead.email_normalized else empty
            ) | (by_phone.get(lead.phone_sanitized, empty) if lead.phone_sanitized else empty)
            if matches:
                result[lead] = matches.sorted("id")
        return result

    def _regulation_describe_originals(self, originals):
        """The originals by name when the user may read them, else by owner only."""
        originals = originals[:5]
        readable = originals.with_env(self.env)._filtered_access("read")
        return ", ".join(
            self.env._(
                "“%(lead)s” (owner: %(user)s, team: %(team)s)",
                lead=original.display_name,
                user=original.user_id.name or self.env._("nobody"),
                team=original.team_id.name or "-",
            )
            if original in readable
            else self.env._(
                "a lead you cannot see (owner: %s)", original.user_id.name or self.env._("nobody")
            )
            for original in originals
        )

    def _regulation_check_duplicates(self):
        """New leads with the email or phone of an open lead: refused when their team
        blocks duplicates (leads of the mail gateway are only warned about: a customer's
        email is never dropped), else the original and its owner are named on the lead."""
        found = self._regulation_find_originals()
        if not found:
            return
        from_mail = flagged(self.env, MAIL_GATEWAY)
        blocking = {
            lead: originals
            for lead, originals in found.items()
            if lead.team_id.duplicate_policy == "block" and not from_mail
        }
        blocked = [
            (lead, originals)
            for lead, originals in blocking.items()
            if lead.team_id.regulation_mode == ENFORCE
        ]
        Log = self.env["crm.regulation.violation"]
        if blocked:
            Log._record(self._regulation_duplicate_violations(blocked, "refused"), refused=True)
            lines = [self.env._("These leads already exist; continue on the original leads:")]
            lines += [
                self.env._(
                    "• “%(lead)s” duplicates %(originals)s.",
                    lead=lead.display_name,
                    originals=self._regulation_describe_originals(originals),
                )
                for lead, originals in blocked[:MAX_LEADS_IN_ERROR]
            ]
            lines.append(self.env._("Nothing was created."))
            raise UserError("\n".join(lines))
        Log._record(
            self._regulation_duplicate_violations(
                [(lead, originals) for lead, originals in found.items()],
                lambda lead: "would_refuse" if lead in blocking else "warned",
            )
        )
        texts = []
        for lead, originals in found.items():
            text = self.env._(
                "Possible duplicate of %s.", self._regulation_describe_originals(originals)
            )
            texts.append(f"{lead.display_name}: {text}")
            lead._message_log(body=Markup("<p>%s</p>") % text)
        self.env.user._bus_send(
            "simple_notification",
            {
                "type": "warning",
                "title": self.env._("Possible duplicate"),
                "message": "\n".join(texts[:5]),
                "sticky": False,
            },
        )

    def _regulation_duplicate_violations(self, found, outcome):
        """[Violation] of new leads found duplicating others ([(lead, originals)]);
        ``outcome``: a value, or a function of the lead."""
        return [
            Violation.of_lead(
                lead,
                "duplicate",
                # the originals by number only: the log's readers may not see them
                self.env._(
                    "duplicates the open lead(s) %s", ", ".join(f"#{o.id}" for o in originals)
                ),
                lead.team_id.regulation_mode,
                outcome(lead) if callable(outcome) else outcome,
            )
            for lead, originals in found
        ]

    @api.onchange("email_from", "phone", "team_id")
    def _onchange_regulation_duplicates(self):
        found = self._regulation_find_originals()
        if not found:
            return None
        originals = next(iter(found.values()))
        if self.team_id.duplicate_policy == "block":
            message = self.env._(
                "This lead cannot be saved: it duplicates %s.",
                self._regulation_describe_originals(originals),
            )
        else:
            message = self.env._(
                "This lead may duplicate %s.", self._regulation_describe_originals(originals)
            )
        return {"warning": {"title": self.env._("Possible duplicate"), "message": message}}

    @api.model
    @api.private  # the mail gateway's entry: over RPC it would skip the duplicate policy
    def message_new(self, msg_dict, custom_values=None):
        if self.env.context.get(GATEWAY_TRUSTED) is False:
            # an e-mail fed through the gateway by a user over RPC: their lead, judged as any
            return super().message_new(msg_dict, custom_values=custom_values)
        with flag(self.env, MAIL_GATEWAY):
            return super().message_new(msg_dict, custom_values=custom_values)
