"""Sales regulation digests: Odoo's digest e-mails (*Settings > Technical > Digest Emails*)
extended with the KPI engine. Each recipient gets, under their own rights, the KPI lines of
their teams (value, plan, change, good or bad, why), the leads to act on (links) and the
KPI workbook (XLSX), once per period, at the end of the working day of their team's hours.

Exactly once: a recipient's digest of a period is written in one transaction with its line
in the sending log (unique per digest, recipient and first day of the period), under an
advisory lock per digest and recipient, and committed recipient by recipient; a rerun, a
crash after the first recipients or a second worker sends nothing twice, and a missed day
is caught up once (the latest period that ended only).
"""

import hashlib
import logging
from datetime import datetime, time, timedelta
from typing import NamedTuple

import psycopg2
import pytz
from dateutil.relativedelta import relativedelta
from werkzeug.urls import url_encode

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_amount, format_date, formatLang

from .business_clock import CHUNK, window_start
from .caller_values import sudo_clean
from .crm_kpi_target import KPI_CODES
from .crm_team_dashboard import ACTION_LISTS, todo_labels
from .crm_team_kpi import BY_USER, HEADLINE_DEFAULT, too_many_kpis
from .kpi_workbook import Column, Sheet, write_workbook

_logger = logging.getLogger(__name__)

# How many periods back the schedule looks for the last one that ended (a daily digest
# after two weeks of holidays still finds its last working day)
LOOKBACK = 15
# The leads listed per list in the e-mail by default (the workbook lists them all)
TODO_LIMIT_DEFAULT = 5
TODO_LIMIT_MAX = 50
# Leads read at once for the workbook's To do sheet
WORKBOOK_CHUNK = 1000
STATUS_LABELS = ("on_track", "at_risk", "behind", "no_data")
# A recipient's digest that fails is tried again at the next runs, this many times in all
MAX_ATTEMPTS = 3
# what a why says: who or which stage, the figure now, before, and the change in points
WHY_KEYS = ("name", "value", "previous", "points")


class Period(NamedTuple):
    """One period of a digest: its first and last day (the recipient's calendar), the
    moment it is due (naive UTC: the end of its last working day), and the period it is
    compared with."""

    date_from: object
    date_to: object
    due: datetime
    previous_from: object
    previous_to: object


def lock_key(digest_id, user_id):
    """The advisory lock of one recipient's digest (a signed 64-bit key)."""
    digest = hashlib.blake2b(f"crm_regulation.digest:{digest_id}:{user_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class DigestDigest(models.Model):
    _inherit = "digest.digest"

    crm_regulation = fields.Boolean(
        string="Sales Regulation Digest",
        help="Send the sales regulation's KPIs, the leads to act on and the KPI workbook to "
        "each recipient under their own rights, at the end of their team's working day.",
    )
    crm_team_ids = fields.Many2many(
        "crm.team",
        "digest_digest_crm_team_rel",
        "digest_id",
        "team_id",
        string="Sales Teams",
        help="The teams the digest covers, with their sub-teams (empty: each recipient's own "
        "teams, or every team they can read when they belong to none).",
    )
    crm_kpi_ids = fields.Many2many(
        "crm.regulation.kpi",
        "digest_digest_crm_kpi_rel",
        "digest_id",
        "kpi_id",
        string="Sales KPIs",
        default=lambda self: self._crm_default_kpis(),
        help="The figures the digest shows: our rule is no more than five.",
    )
    crm_group_ids = fields.Many2many(
        "res.groups",
        "digest_digest_crm_group_rel",
        "digest_id",
        "group_id",
        string="Recipient Roles",
        help="Every active internal user holding one of these roles receives the digest, "
        "besides the recipients listed (unless they unsubscribed).",
    )
    crm_unsubscribed_ids = fields.Many2many(
        "res.users",
        "digest_digest_crm_unsubscribed_rel",
        "digest_id",
        "user_id",
        string="Unsubscribed",
        groups="base.group_erp_manager",
        help="Users of the recipient roles who unsubscribed from the digest.",
    )
    crm_todo_limit = fields.Integer(
        string="Leads per List",
        default=TODO_LIMIT_DEFAULT,
        help="The leads to act on listed in the e-mail per list; the rest is a link to the "
        "filtered list (the workbook lists them all).",
    )
    crm_workbook = fields.Boolean(string="Attach the KPI Workbook", default=True)
    crm_active_since = fields.Datetime(
        string="Sending Since",
        readonly=True,
        help="Periods that ended before the digest was activated are never sent.",
    )
    crm_log_count = fields.Integer(
        compute="_compute_crm_log_count",
        string="Digests Sent",
        groups="base.group_erp_manager,crm_regulation.group_crm_admin",
    )

    @api.model
    def _crm_default_kpis(self):
        return self.env["crm.regulation.kpi"].search([("code", "in", list(HEADLINE_DEFAULT))])

    def _compute_crm_log_count(self):
        Log = self.env["crm.regulation.digest.log"]
        counts = dict(
            Log._read_group(
                [("digest_id", "in", self.ids), ("state", "=", "sent")], ["digest_id"], ["__count"]
            )
        )
        for digest in self:
            digest.crm_log_count = counts.get(digest, 0)

    @api.constrains("crm_todo_limit", "crm_regulation")
    def _check_crm_todo_limit(self):
        for digest in self:
            if digest.crm_regulation and not 1 <= digest.crm_todo_limit <= TODO_LIMIT_MAX:
                raise ValidationError(
                    self.env._(
                        "A digest lists 1 to %(max)s leads per list (%(given)s given).",
                        max=TODO_LIMIT_MAX,
                        given=digest.crm_todo_limit,
                    )
                )

    @api.onchange("crm_kpi_ids")
    def _onchange_crm_kpi_ids(self):
        return too_many_kpis(
            self.env,
            self.crm_kpi_ids,
            self.env._(
                "%s KPIs chosen: a head of sales acts on no more than five. The digest shows "
                "them all.",
                len(self.crm_kpi_ids),
            ),
        )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("crm_regulation"):
                vals["next_run_date"] = False
                if vals.get("state", "activated") == "activated":
                    vals.setdefault("crm_active_since", fields.Datetime.now())
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("crm_regulation"):
            vals = dict(vals, next_run_date=False)
        # sending starts when a sales digest is switched on (not when it is written again)
        was_on = {
            digest.id for digest in self if digest.crm_regulation and digest.state == "activated"
        }
        leaving = self.filtered("crm_regulation")
        result = super().write(vals)
        if "state" in vals or "crm_regulation" in vals:
            started = self.filtered(
                lambda digest: digest.crm_regulation
                and digest.state == "activated"
                and digest.id not in was_on
            )
            # sudo: the system records when sending starts (never set by hand)
            started.sudo().write({"crm_active_since": fields.Datetime.now()})
            for digest in leaving.filtered(lambda digest: not digest.crm_regulation):
                # back to Odoo's own schedule
                digest.next_run_date = digest._get_next_run_date()
        return result

    # ------------------------------------------------------------
    # Recipients and subscription
    # ------------------------------------------------------------

    def _crm_recipients(self):
        """The users the digest goes to: those listed and the active internal users of its
        roles, less those who unsubscribed."""
        self.ensure_one()
        # sudo: the digest's recipients and the members of its roles (the administrator's)
        digest = self.sudo()
        users = digest.user_ids | digest.crm_group_ids.all_user_ids
        return users.filtered(lambda user: user.active and not user.share and user.email) - (
            digest.crm_unsubscribed_ids
        )

    @api.depends("user_ids", "crm_group_ids", "crm_unsubscribed_ids")
    def _compute_is_subscribed(self):
        result = super()._compute_is_subscribed()
        for digest in self.filtered("crm_regulation"):
            digest.is_subscribed = self.env.user in digest._crm_recipients()
        return result

    def action_subscribe(self):
        if self.crm_regulation and self.env.user._is_internal():
            return self._action_subscribe_users(self.env.user)
        return super().action_subscribe()

    def action_unsubscribe(self):
        if self.crm_regulation and self.env.user in self._crm_recipients():
            return self._action_unsubscribe_users(self.env.user)
        return super().action_unsubscribe()

    def _action_subscribe_users(self, users):
        result = super()._action_subscribe_users(users)
        # sudo: the user's own subscription (Odoo's own subscription is done so too)
        self.sudo().crm_unsubscribed_ids -= users
        return result

    def _action_unsubscribe_users(self, users):
        result = super()._action_unsubscribe_users(users)
        # sudo: the user's own unsubscription (Odoo's own is done so too)
        self.sudo().filtered("crm_regulation").crm_unsubscribed_ids |= users
        return result

    # ------------------------------------------------------------
    # Schedule: the end of the recipient's working day
    # ------------------------------------------------------------

    def _get_next_run_date(self):
        if self.crm_regulation:
            return False  # sent by its own schedule (_cron_send_regulation_digests)
        return super()._get_next_run_date()

    def _crm_calendar(self, user):
        """The working hours a recipient's digest follows: those of their first team (led
        or member), else their company's."""
        # sudo: the recipient's teams and their hours, to schedule the digest
        Team = self.env["crm.team"].sudo()
        teams = self.sudo().crm_team_ids or Team.search(
            ["|", ("user_id", "=", user.id), ("member_ids", "in", user.ids)], order="id"
        )
        if teams:
            return teams[:1]._regulation_calendar()
        return user.company_id.resource_calendar_id or self.env.company.resource_calendar_id

    def _crm_bounds(self, first, last):
        """The period's first and last day, one step back: (first, last) of the previous
        period of the digest's periodicity."""
        if self.periodicity == "daily":
            return first - timedelta(days=1), first - timedelta(days=1)
        if self.periodicity == "weekly":
            return first - timedelta(days=7), first - timedelta(days=1)
        months = 1 if self.periodicity == "monthly" else 3
        start = first - relativedelta(months=months)
        return start, first - timedelta(days=1)

    def _crm_period_of(self, day):
        """(first, last) day of the period of the digest's periodicity holding ``day``."""
        if self.periodicity == "daily":
            return day, day
        if self.periodicity == "weekly":
            first = day - timedelta(days=day.weekday())
            return first, first + timedelta(days=6)
        months = 1 if self.periodicity == "monthly" else 3
        first = day.replace(day=1, month=(day.month - 1) // months * months + 1)
        return first, first + relativedelta(months=months, days=-1)

    @api.model
    def _crm_working_end(self, calendar, first, last):
        """The end (naive UTC) of the last working interval from ``first`` to ``last``
        (the calendar's days, its time zone), or None without working time."""
        tz = pytz.timezone(calendar.tz or "UTC")

        def bound(day):
            local = tz.localize(datetime.combine(day, time.min))
            return local.astimezone(pytz.utc).replace(tzinfo=None)

        start, stop = bound(first), bound(last + timedelta(days=1))
        end = None
        window = window_start(start)
        while window < stop:
            for begin, finish in calendar._regulation_window_intervals(window):
                if begin < stop and finish > start:
                    end = max(end or finish, min(finish, stop))
            window += CHUNK
        return end

    def _crm_due_period(self, calendar, now):
        """The latest period of the digest that ended by ``now`` (its last working day is
        over), or None: a missed period is sent once, late; those before it never."""
        self.ensure_one()
        tz = pytz.timezone(calendar.tz or "UTC")
        today = pytz.utc.localize(now).astimezone(tz).date()
        first, last = self._crm_period_of(today)
        for _step in range(LOOKBACK):
            due = self._crm_working_end(calendar, first, last)
            if due and due <= now:
                return Period(first, last, due, *self._crm_previous(calendar, first))
            first, last = self._crm_bounds(first, last)
        return None

    def _crm_previous(self, calendar, first):
        """The period the figures are compared with: the previous working day of a daily
        digest, the previous week, month or quarter of the others."""
        previous = self._crm_bounds(first, first)
        if self.periodicity != "daily":
            return previous
        day = previous[0]
        for _step in range(LOOKBACK):
            if self._crm_working_end(calendar, day, day):
                return day, day
            day -= timedelta(days=1)
        return previous

    def _crm_current_period(self, calendar, now):
        """The period to preview: the last one that ended, else the current one."""
        period = self._crm_due_period(calendar, now)
        if period:
            return period
        tz = pytz.timezone(calendar.tz or "UTC")
        first, last = self._crm_period_of(pytz.utc.localize(now).astimezone(tz).date())
        return Period(first, last, now, *self._crm_previous(calendar, first))

    # ------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------

    def _action_send(self, update_periodicity=True):
        regulation = self.filtered("crm_regulation")
        if regulation:
            # Odoo's own schedule (or "Send Now") on a sales digest: what is due, once
            # (in the caller's transaction: no commit in the middle of a request)
            regulation._crm_send_due(fields.Datetime.now(), commit=False)
        return super(DigestDigest, self - regulation)._action_send(update_periodicity)

    def action_send(self):
        # Odoo's "send what is due" on a sales digest: for those who may change it (the cron)
        self.filtered("crm_regulation").check_access("write")
        return super().action_send()

    def action_send_manual(self):
        regulation = self.filtered("crm_regulation")
        # "Send Now" e-mails every recipient: for those who may change the digest
        regulation.check_access("write")
        for digest in regulation:
            for user in digest._crm_recipients():
                digest._crm_send(user, preview=True)
        self._crm_trigger_mail_queue()
        return super(DigestDigest, self - regulation).action_send_manual()

    def action_crm_send_preview(self):
        """*Send me a preview now*: the digest of the current user, under their rights, at
        once (not logged: the scheduled one still comes)."""
        self.ensure_one()
        if not self.crm_regulation:
            raise UserError(self.env._("Only a sales regulation digest has a preview."))
        if not self.env.user.email:
            raise UserError(self.env._("Your user has no e-mail address to send the preview to."))
        self._crm_send(self.env.user, preview=True)
        self._crm_trigger_mail_queue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("The preview is on its way to %s.", self.env.user.email),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_crm_view_log(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_regulation.crm_regulation_digest_log_action"
        )
        action["domain"] = [("digest_id", "=", self.id)]
        return action

    @api.model
    def _cron_send_regulation_digests(self):
        """Every sales digest due: each recipient's, once per period, recipient by
        recipient (committed one by one: a crash loses nothing sent and repeats nothing)."""
        digests = self.search([("crm_regulation", "=", True), ("state", "=", "activated")])
        return digests._crm_send_due(fields.Datetime.now())

    def _crm_send_due(self, now, commit=True):
        """Send the digests due at ``now`` to the recipients who have not had them
        (``commit``: recipient by recipient, as the cron does)."""
        todo = []
        for digest in self:
            if not digest.crm_regulation or digest.state != "activated":
                continue
            since = digest.crm_active_since or digest.create_date
            calendars = {}
            for user in digest._crm_recipients():
                calendar = digest._crm_calendar(user)
                if calendar not in calendars:
                    calendars[calendar] = digest._crm_due_period(calendar, now)
                period = calendars[calendar]
                if period and period.due >= since:
                    todo.append((digest, user, period))
        # sudo: the sending log is the digests' own (what was sent, or failed too often)
        Log = self.env["crm.regulation.digest.log"].sudo()
        logs = Log.search_fetch(
            [
                ("digest_id", "in", self.ids),
                ("user_id", "in", [t[1].id for t in todo]),
                "|",
                ("state", "=", "sent"),
                ("attempts", ">=", MAX_ATTEMPTS),
            ],
            ["digest_id", "user_id", "period_start"],
        )
        done = {(log.digest_id.id, log.user_id.id, log.period_start) for log in logs}
        todo = [t for t in todo if (t[0].id, t[1].id, t[2].date_from) not in done]
        Cron = self.env["ir.cron"]
        if commit:
            Cron._commit_progress(remaining=len(todo))
        count = 0
        for digest, user, period in todo:
            count += digest._crm_send_once(user, period)
            if commit and not Cron._commit_progress(1):
                break
        if count:
            self._crm_trigger_mail_queue()
        return count

    def _crm_send_once(self, user, period):
        """Send ``user`` their digest of ``period`` unless it was sent (or another worker is
        sending it): 1 when sent."""
        self.ensure_one()
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(self.id, user.id)])
        if not cr.fetchone()[0]:
            return 0  # another worker is on it
        # sudo: the sending log is the digests' own
        Log = sudo_clean(self.env["crm.regulation.digest.log"])
        key = [
            ("digest_id", "=", self.id),
            ("user_id", "=", user.id),
            ("period_start", "=", period.date_from),
        ]
        failed = Log.search(key, limit=1)
        if failed and (failed.state == "sent" or failed.attempts >= MAX_ATTEMPTS):
            return 0
        try:
            with cr.savepoint():
                log = failed or Log.create(
                    {
                        "digest_id": self.id,
                        "user_id": user.id,
                        "period_start": period.date_from,
                        "period_end": period.date_to,
                    }
                )
                log.write({"state": "sent", "error": False})
                log.flush_recordset()
                log.mail_id = self._crm_send(user, period)
        except (psycopg2.IntegrityError, psycopg2.errors.SerializationFailure):
            return 0  # sent by another worker meanwhile
        except Exception as error:  # one recipient's failure must not stop the others
            _logger.exception("Sales digest %s for user %s failed", self.id, user.id)
            with cr.savepoint():
                values = {"state": "failed", "error": str(error)[:1000]}
                if failed:
                    failed.write(dict(values, attempts=failed.attempts + 1))
                else:
                    Log.create(
                        dict(
                            values,
                            digest_id=self.id,
                            user_id=user.id,
                            period_start=period.date_from,
                            period_end=period.date_to,
                            attempts=1,
                        )
                    )
            return 0
        return 1

    def _crm_send(self, user, period=None, preview=False):
        """Queue ``user``'s digest of ``period`` (the mail.mail)."""
        self.ensure_one()
        calendar = self._crm_calendar(user)
        period = period or self._crm_current_period(calendar, fields.Datetime.now())
        digest = self.with_context(lang=user.lang, tz=calendar.tz or user.tz or "UTC")
        content = digest._crm_content(user, period)
        unsubscribe_token = self._get_unsubscribe_token(user.id)
        base_url = self.get_base_url()
        values = {
            "object": self,
            "user": user,
            "company": user.company_id,
            "content": content,
            "title": digest.name,
            "period_label": content["period_label"],
            "preview": preview,
            "base_url": base_url,
            "unsubscribe_url": f"{base_url}/digest/{self.id}/unsubscribe?"
            + url_encode({"token": unsubscribe_token, "user_id": user.id}),
        }
        QWeb = self.env["ir.qweb"].with_context(lang=user.lang)
        body = QWeb._render("crm_regulation.digest_regulation_mail", values)
        full = self.env["mail.render.mixin"]._render_encapsulate(
            "digest.digest_mail_layout",
            body,
            add_context={"company": user.company_id, "user": user},
        )
        unsubscribe_one_click = f"{base_url}/digest/{self.id}/unsubscribe_oneclik?" + url_encode(
            {"token": unsubscribe_token, "user_id": user.id}
        )
        subject = f"{user.company_id.name}: {digest.name} — {content['period_label']}"
        if preview:
            subject = digest.env._("[Preview] %s", subject)
        # sudo: the digest's company (the administrator's), the e-mail's sender
        sender = self.sudo().company_id.partner_id.email_formatted
        # sudo: queue the e-mail (mail.mail is the system's); every value computed above
        mail = sudo_clean(self.env["mail.mail"].with_user(SUPERUSER_ID)).create(
            {
                "auto_delete": True,
                "author_id": self.env.ref("base.partner_root").id,
                "body_html": full,
                "email_from": (
                    sender
                    or user.company_id.partner_id.email_formatted
                    or self.env.ref("base.user_root").email_formatted
                ),
                "email_to": user.email_formatted,
                "headers": {
                    "List-Unsubscribe": f"<{unsubscribe_one_click}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "X-Auto-Response-Suppress": "OOF",
                },
                "state": "outgoing",
                "subject": subject,
            }
        )
        if self.crm_workbook:
            data = digest._crm_workbook(user, content)
            # sudo: the workbook goes with the e-mail's message (deleted with it; readable by
            # the system only)
            attachment = sudo_clean(self.env["ir.attachment"].with_user(SUPERUSER_ID)).create(
                {
                    "name": content["workbook_name"],
                    "raw": data,
                    "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "res_model": "mail.message",
                    "res_id": mail.mail_message_id.id,
                }
            )
            mail.attachment_ids = [(4, attachment.id)]
        return mail

    def _crm_trigger_mail_queue(self):
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron:
            cron._trigger()

    # ------------------------------------------------------------
    # Content, under the recipient's rights
    # ------------------------------------------------------------

    def _crm_content(self, user, period):
        """What ``user``'s digest of ``period`` says, computed as ``user``:
        {period_label, sections: [{team, own, lines, funnel_why, todo, ...}], messages}."""
        self.ensure_one()
        # sudo: the digest's configuration (the administrator's)
        config = self.sudo()
        env = (
            self.with_user(user)
            .with_context(allowed_company_ids=user.company_ids.ids, active_test=True)
            .env
        )
        Team = env["crm.team"].with_company(user.company_id)
        messages = []
        teams = Team.browse()
        for team in config.crm_team_ids:
            if Team.browse(team.id).has_access("read"):
                teams |= Team.browse(team.id)
            else:
                messages.append(
                    env._("A sales team of this digest is outside your access: not in it.")
                )
        if not config.crm_team_ids:
            teams = self._crm_own_teams(Team, user)
        # the teams whose parent is also there are in its figures already
        teams = teams.filtered(
            lambda team: not any(
                other != team and team.parent_path.startswith(other.parent_path) for other in teams
            )
        )
        if not teams:
            messages.append(env._("No sales team to report on: you lead or belong to none."))
        codes = []
        known = dict(KPI_CODES)
        for kpi in config.crm_kpi_ids or config._crm_default_kpis():
            if kpi.code in known:
                codes.append(kpi.code)
            else:
                messages.append(
                    env._("The KPI %s no longer exists: remove it from the digest.", kpi.code)
                )
        sections = []
        for team in teams:
            try:
                sections.append(self._crm_section(team, user, period, codes))
            except (AccessError, UserError) as error:
                messages.append(
                    env._("%(team)s: %(error)s", team=team.display_name, error=error.args[0])
                )
        lang_env = env(context=dict(env.context, lang=user.lang))
        period_label = (
            format_date(lang_env, period.date_from)
            if period.date_from == period.date_to
            else f"{format_date(lang_env, period.date_from)} \u2013 "
            f"{format_date(lang_env, period.date_to)}"
        )
        return {
            "period_label": period_label,
            "sections": sections,
            "messages": messages,
            "workbook_name": f"sales-digest-{period.date_from}.xlsx",
        }

    def _crm_own_teams(self, Team, user):
        """The recipient's own scope: the teams they lead or belong to; every team they can
        read at the top of the tree when they belong to none (administrators, marketers)."""
        scope = Team.env["res.users"]._crm_regulation_scope()
        teams = Team.browse(scope.team_ids).exists()
        if not teams:
            teams = Team.search([("parent_id", "=", False)], order="sequence, id")
        return teams

    def _crm_section(self, team, user, period, codes):
        """One team's part of the digest, as ``user`` (``team`` in their environment)."""
        env = team.env
        own = team._digest_own_figures_user(user)
        tree = team._kpi_tree()
        current = team._kpi_window(period.date_from, period.date_to)
        previous = team._kpi_window(period.previous_from, period.previous_to)
        kpis, figures = team._kpi_report(current, own, tree=tree, previous=previous)
        currency = (team.company_id or user.company_id).currency_id
        lines = []
        for code in codes:
            for kpi in (kpi for kpi in kpis if kpi["code"] == code):
                lines.append(self._crm_line(env, kpi, currency, own))
        funnel = [kpi for kpi in kpis if kpi["code"] == "stage_conversion"]
        why = team._kpi_funnel_why(kpis)
        labels = todo_labels(env)
        # sudo: the digest's configuration (the administrator's)
        limit = self.sudo().crm_todo_limit or TODO_LIMIT_DEFAULT
        base_url = self.get_base_url()
        todo = []
        for key, entry in team._dashboard_actions(user=own, limit=limit).items():
            todo.append(
                {
                    "key": key,
                    "label": labels[key],
                    "count": entry["count"],
                    "leads": [
                        dict(lead, url=f"{base_url}/odoo/crm.lead/{lead['id']}")
                        for lead in entry["leads"]
                    ],
                    "more": max(entry["count"] - len(entry["leads"]), 0),
                    "url": f"{base_url}/odoo/{team.id}/action-"
                    f"crm_regulation.action_crm_lead_todo_{key}",
                }
            )
        people = []
        per_user = figures.get(BY_USER, {})
        user_codes = [code for code, _label in KPI_CODES if any(k[0] == code for k in per_user)]
        # (None: the leads without a salesperson)
        user_ids = sorted({key[1] for key in per_user}, key=lambda uid: (uid is None, uid or 0))
        names = team._kpi_names("res.users", user_ids)
        for user_id in user_ids:
            people.append(
                {
                    "name": names[user_id],
                    "values": [
                        (per_user.get((code, user_id), {}).get(current) or (0.0,))[0]
                        for code in user_codes
                    ],
                }
            )
        return {
            "team": team,
            "name": team.display_name,
            "own": own,
            "lines": lines,
            "funnel": funnel,
            "funnel_why": self._crm_funnel_why_text(env, why),
            "todo": todo,
            "people": people,
            "people_codes": user_codes,
            "currency": currency,
            "current": current,
        }

    @api.model
    def _crm_funnel_why_text(self, env, why):
        if not why:
            return ""
        stage, value, previous, points = (why[key] for key in WHY_KEYS)
        return env._(
            "%(stage)s converted %(value)s %% against %(previous)s %% (-%(points)s pts)",
            stage=stage,
            value=formatLang(env, value, digits=1),
            previous=formatLang(env, previous, digits=1),
            points=formatLang(env, points, digits=1),
        )

    @api.model
    def _crm_format(self, env, value, unit, currency):
        if unit == "currency":
            return format_amount(env, value or 0.0, currency)
        if unit == "count":
            return formatLang(env, value or 0, digits=0)
        text = formatLang(env, value or 0.0, digits=1)
        return {
            "percent": env._("%s %%", text),
            "hours": env._("%s h", text),
            "days": env._("%s d", text),
        }.get(unit, text)

    @api.model
    def _crm_line(self, env, kpi, currency, own):
        """One KPI line: value, change against the previous period and whether it is good,
        the plan reached to date, and why."""
        unit = kpi["unit"]
        value, previous = kpi["value"] or 0.0, kpi["previous"] or 0.0
        change = round(value - previous, 2)
        # a rate or a median of nothing is no data; a count of nothing is a zero
        no_data = kpi["no_data"] and unit not in ("count", "currency")
        good = None if no_data or not change else (change > 0) == (kpi["better"] == "up")
        if unit == "percent":
            change_text = env._("%s pts", formatLang(env, abs(change), digits=1))
        else:
            change_text = self._crm_format(env, abs(change), unit, currency)
        change_text = ("+" if change > 0 else "-" if change < 0 else "") + change_text
        if previous and unit in ("count", "currency"):
            change_text += f" ({change / previous:+.0%})"
        line = {
            "code": kpi["code"],
            "name": kpi["name"],
            "value": value,
            "unit": unit,
            "no_data": no_data,
            "value_text": env._("no data")
            if no_data
            else self._crm_format(env, value, unit, currency),
            "previous": previous,
            "previous_text": self._crm_format(env, previous, unit, currency),
            "change": change,
            "change_text": change_text,
            "good": good,
            "denominator": kpi["denominator"],
            "target": kpi["target"] if kpi.get("plan") else None,
            "share": kpi["target_share"] if kpi.get("plan") else None,
            "status": kpi["plan"]["status"] if kpi.get("plan") else None,
            "plan_text": "",
            "why_text": "",
        }
        if kpi.get("plan"):
            statuses = dict(
                zip(
                    STATUS_LABELS,
                    (env._("on track"), env._("at risk"), env._("behind"), env._("no data")),
                    strict=True,
                )
            )
            line["status_text"] = statuses[line["status"]]
            share = f"{kpi['target_share']:.0%}"
            line["plan_text"] = env._(
                "target %(target)s, %(share)s reached: %(status)s",
                target=self._crm_format(env, kpi["target"], unit, currency),
                share=share,
                status=statuses[line["status"]],
            )
        why = kpi.get("why")
        if why and not own:
            name, value, previous = (why[key] for key in WHY_KEYS[:3])
            line["why_text"] = env._(
                "%(name)s moved most: %(value)s against %(previous)s",
                name=name,
                value=self._crm_format(env, value, unit, currency),
                previous=self._crm_format(env, previous, unit, currency),
            )
        return line

    # ------------------------------------------------------------
    # The workbook
    # ------------------------------------------------------------

    def _crm_workbook(self, user, content):
        """The XLSX of a digest: Summary, Funnel (with its chart), Salespeople, To do (every
        lead of every list, read in chunks and streamed: constant memory)."""
        env = self.with_user(user).with_context(allowed_company_ids=user.company_ids.ids).env
        sections = content["sections"]
        units = {"percent": "%", "hours": self.env._("h"), "days": self.env._("d")}
        if sections:
            units["currency"] = sections[0]["currency"].name
        summary_rows = [
            (
                section["name"],
                line["name"],
                None if line["no_data"] else line["value"],
                units.get(line["unit"], ""),
                line["previous"],
                line["change"],
                {True: self.env._("good"), False: self.env._("bad")}.get(line["good"], ""),
                line["target"],
                line["share"],
                line.get("status_text", ""),
                line["why_text"],
            )
            for section in sections
            for line in section["lines"]
        ]
        summary = Sheet(
            self.env._("Summary"),
            [
                Column(self.env._("Team"), "text", 22),
                Column(self.env._("KPI"), "text", 36),
                Column(self.env._("Value"), "number"),
                Column(self.env._("Unit"), "text", 10),
                Column(self.env._("Previous"), "number"),
                Column(self.env._("Change"), "number"),
                Column(self.env._("Trend"), "text", 10),
                Column(self.env._("Target"), "number"),
                Column(self.env._("Plan reached"), "percent"),
                Column(self.env._("Plan status"), "text"),
                Column(self.env._("Why"), "text", 50),
            ],
            summary_rows,
        )
        funnel_rows = [
            (
                section["name"],
                kpi["name"],
                kpi["base"] or 0,
                (kpi["value"] or 0.0) / 100.0,
                (kpi["previous"] or 0.0) / 100.0,
            )
            for section in sections
            for kpi in section["funnel"]
        ]
        funnel = Sheet(
            self.env._("Funnel"),
            [
                Column(self.env._("Team"), "text", 22),
                Column(self.env._("Stage"), "text", 40),
                Column(self.env._("Leads entered"), "number"),
                Column(self.env._("Conversion"), "percent"),
                Column(self.env._("Previous conversion"), "percent"),
            ],
            funnel_rows,
        )
        labels = dict(self.env["crm.kpi.target"]._fields["kpi_code"]._description_selection(env))
        codes = list(dict.fromkeys(c for section in sections for c in section["people_codes"]))
        people = Sheet(
            self.env._("Salespeople"),
            [Column(self.env._("Team"), "text", 22), Column(self.env._("Salesperson"), "text", 26)]
            + [Column(labels[code], "number", 16) for code in codes],
            [
                (
                    section["name"],
                    person["name"],
                    *(
                        dict(zip(section["people_codes"], person["values"], strict=True)).get(code)
                        for code in codes
                    ),
                )
                for section in sections
                for person in section["people"]
            ],
        )
        todo = Sheet(
            self.env._("To do"),
            [
                Column(self.env._("Team"), "text", 22),
                Column(self.env._("List"), "text", 26),
                Column(self.env._("Lead"), "link", 40),
                Column(self.env._("Salesperson"), "text", 22),
                Column(self.env._("Stage"), "text", 20),
                Column(self.env._("Created on"), "datetime", 18),
            ],
            self._crm_todo_rows(env, sections),
        )
        return write_workbook(
            [summary, funnel, people, todo],
            chart=(funnel.name, self.env._("Stage conversion"), 1, 3),
        )

    def _crm_todo_rows(self, env, sections):
        """Every lead of every list to act on, as rows, read ``WORKBOOK_CHUNK`` at a time."""
        base_url = self.get_base_url()
        labels = todo_labels(env)
        actives = {key: active for key, _domain, active in ACTION_LISTS}
        for section in sections:
            team = section["team"].with_env(env)
            for key, domain, _active in team._regulation_todo_domains(section["own"]):
                Lead = env["crm.lead"].with_context(active_test=actives[key])
                ids = list(Lead._search(domain, order="id"))
                for start in range(0, len(ids), WORKBOOK_CHUNK):
                    leads = Lead.browse(ids[start : start + WORKBOOK_CHUNK])
                    leads.fetch(["name", "user_id", "stage_id", "create_date"])
                    for lead in leads:
                        yield (
                            section["name"],
                            labels[key],
                            (f"{base_url}/odoo/crm.lead/{lead.id}", lead.name or ""),
                            lead.user_id.name or "",
                            lead.stage_id.name or "",
                            lead.create_date,
                        )
                    leads.invalidate_recordset()
