"""First contact with the customer: the first done activity of the types the company counts
(by default a call or a meeting), or the first message sent to the customer from the lead,
after the lead's creation. Kept by the message path (a done activity leaves a message with
its type), set-based; filled for the existing leads at install and upgrade."""

from odoo import api, fields, models
from odoo.tools import SQL

from .regulation import Span

# the condition on a message ``m`` (its author partner ``m.author_id``) of lead ``l``: a done
# activity of a type the lead's company counts, or a message sent to the customer (Odoo's
# "Send message" by an internal user; not a log note, not the customer's own e-mail)
CONTACT_MESSAGE = """(
    CASE WHEN m.mail_activity_type_id IS NOT NULL THEN EXISTS (
            SELECT 1 FROM crm_regulation_company_first_contact_type_rel r
             WHERE r.type_id = m.mail_activity_type_id
               AND r.company_id = COALESCE(l.company_id, %(company)s))
         ELSE m.message_type = 'comment' AND m.subtype_id = %(comment)s
              AND NOT COALESCE(m.is_internal, FALSE)
              AND EXISTS (SELECT 1 FROM res_users u
                           WHERE u.partner_id = m.author_id AND NOT u.share)
    END
)"""


# one capability a file (crm_lead.py says which)
class CrmLeadFirstContact(models.Model):
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    first_contact_date = fields.Datetime(
        string="First Contact",
        readonly=True,
        copy=False,
        help="When the customer was first contacted from the lead: the first done call or "
        "meeting (the activity types counted are set per company), or the first message "
        "sent to the customer.",
    )
    first_contact_hours = fields.Float(
        string="First Contact (Business Hours)",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="Working hours of the team from the lead's creation to its first contact.",
    )

    @api.model
    def _first_contact_sql(self, where):
        """UPDATE the leads without a first contact that ``where`` (on messages ``m``)
        selects, from their first contact message, and their business hours to it; returns
        the ids written."""
        written = self.env.execute_query(
            SQL(
                """
                UPDATE crm_lead l
                   SET first_contact_date = f.date
                  FROM (SELECT m.res_id, min(m.date) AS date
                          FROM mail_message m
                          JOIN crm_lead l ON l.id = m.res_id
                         WHERE m.model = 'crm.lead' AND l.first_contact_date IS NULL
                           -- (a message's date has no fraction of a second)
                           AND m.date >= date_trunc('second', l.create_date) AND %(where)s
                           AND %(contact)s
                      GROUP BY m.res_id) f
                 WHERE l.id = f.res_id
             RETURNING l.id, l.team_id, COALESCE(l.create_date, f.date), f.date
                """,
                where=where,
                contact=SQL(
                    CONTACT_MESSAGE,
                    company=self.env.company.id,
                    comment=self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment"),
                ),
            )
        )
        self._first_contact_write_hours(written)
        return [row[0] for row in written]

    @api.model
    def _first_contact_write_hours(self, rows):
        """Business hours from creation to first contact of ``rows`` (id, team id, created,
        first contact), in the team's working hours: one UPDATE."""
        if not rows:
            return
        spans = [
            Span(lead_id, team_id, min(created, date), date, None)
            for lead_id, team_id, created, date in rows
        ]
        spent = self.env["crm.lead.stage.history"]._business_hours(spans)
        self.env.cr.execute(
            SQL(
                """UPDATE crm_lead l SET first_contact_hours = v.hours
                     FROM unnest(%s::int[], %s::float8[]) AS v(id, hours)
                    WHERE l.id = v.id""",
                list(spent),
                [hours.hours for hours in spent.values()],
            )
        )

    @api.model
    def _first_contact_touch(self, messages):
        """The messages just posted on leads (done activities and comments, told apart by
        ``mail.message.create`` from their values) may be their first contact: one statement."""
        if not messages:
            return
        self.env["mail.message"].flush_model(
            [
                "model",
                "res_id",
                "date",
                "mail_activity_type_id",
                "message_type",
                "subtype_id",
                "is_internal",
                "author_id",
            ]
        )
        self.flush_model(["first_contact_date"])
        written = self._first_contact_sql(SQL("m.id = ANY(%s)", list(messages.ids)))
        if written:
            self.browse(written).invalidate_recordset(["first_contact_date", "first_contact_hours"])

    @api.model
    def _first_contact_backfill(self):
        """Every lead without a first contact gets it from its messages (install, upgrade,
        a change of the counted activity types): one statement."""
        self.flush_model(["first_contact_date"])
        written = self._first_contact_sql(SQL("TRUE"))
        self.invalidate_model(["first_contact_date", "first_contact_hours"])
        return len(written)

    @api.model
    def _first_contact_fill_hours(self):
        """The leads contacted before 19.0.1.8.0 get their business hours to first contact
        (upgrade): one read, one UPDATE."""
        self.flush_model(["first_contact_date", "first_contact_hours"])
        rows = self.env.execute_query(
            SQL(
                """SELECT id, team_id, COALESCE(create_date, first_contact_date),
                          first_contact_date FROM crm_lead
                    WHERE first_contact_date IS NOT NULL AND first_contact_hours IS NULL"""
            )
        )
        self._first_contact_write_hours(rows)
        self.invalidate_model(["first_contact_hours"])
        return len(rows)
