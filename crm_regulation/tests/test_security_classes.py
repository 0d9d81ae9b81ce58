"""The attack review by class, not by example: every x2many field of every model the
addon defines or extends, tried with create / update / delete commands by every role
below CRM administrator; every ``sudo()`` of the addon says why it is safe; the critical
attacks over XML-RPC on a running server."""

import re
import uuid
from datetime import timedelta
from pathlib import Path
from xmlrpc.client import Fault

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tests.common import mail_new_test_user

from .role_matrix_common import RoleMatrixCommon

ADDON = Path(__file__).resolve().parents[1]
ATTACKERS = (
    "employee",
    "salesperson",
    "senior_salesperson",
    "head_of_sales",
    "marketer",
    "support",
    "accountant",
)
# fields that name a record to change, in the order they are tried
MARKER_FIELDS = ("name", "body", "reason", "summary", "note", "description")
# Odoo's own behaviour on the models the addon only extends, not an escalation: a user
# may add a key-less API key row to themselves (no key hash: it never authenticates).
STOCK = {("res.users", "api_key_ids", 0)}


class _Probe(Exception):
    """Ends a probe: its effects are rolled back, its findings carried out."""


@tagged("post_install", "-at_install")
class TestX2manyCommands(RoleMatrixCommon):
    """For every model of the addon, every x2many field in create and write values of a
    lower role, with (0, 0, values), (1, id, values) and (2, id): refused, or no more
    than the user may do on the related model directly."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users["employee"] = mail_new_test_user(
            cls.env, login="rm_employee", name="Plain Employee", groups="base.group_user"
        )
        cls.own_leads = {
            role: cls._lead(cls.users[role], cls.team)
            for role in ("salesperson", "senior_salesperson", "head_of_sales")
        }
        cls.target_lead = cls._lead(cls.other_salesperson, cls.other_team)
        cls.requests = {
            role: cls.env["crm.access.request"]
            .with_user(user)
            .create(
                {
                    "reason": "Probe",
                    "date_end": fields.Datetime.now() + timedelta(days=30),
                    "lead_ids": [cls.target_lead.id],
                }
            )
            for role, user in cls.users.items()
            if role in ATTACKERS
        }

    @classmethod
    def _addon_models(cls):
        data = cls.env["ir.model.data"].search(
            [("module", "=", "crm_regulation"), ("model", "=", "ir.model")]
        )
        names = cls.env["ir.model"].browse(data.mapped("res_id")).mapped("model")
        # inherited for a method only, no field of the addon: its commands are Odoo's own
        # (calendar.event: its unlink guards the activities of its meeting)
        names = [name for name in names if name not in ("calendar.event",)]
        return sorted(
            name
            for name in names
            if name in cls.env and not cls.env[name]._abstract and not cls.env[name]._transient
        ) + sorted(name for name in names if name in cls.env and cls.env[name]._transient)

    def _x2many_fields(self, model):
        return [
            field
            for field in self.env[model]._fields.values()
            if field.type in ("one2many", "many2many")
            and (field.store or field.inverse)
            and not field.related
        ]

    def _create_values(self, model, role):
        """What a create of ``model`` needs besides the probed field (the models a lower
        role may create)."""
        own = self.own_leads.get(role, self.target_lead)
        return {
            "crm.lead": {"name": "Probe"},
            "crm.access.request": {
                "reason": "Probe",
                "date_end": fields.Datetime.now() + timedelta(days=30),
                "lead_ids": [self.target_lead.id],
            },
            "crm.lead.lost": {"lead_ids": own.ids},
            "crm.lead.restore": {"lead_ids": own.ids, "reason": "Probe"},
        }.get(model, {})

    def _target(self, model, user, role):
        """A record of ``model`` the attacker may write if any (their own lead or request),
        else any record."""
        if model == "crm.lead" and role in self.own_leads:
            return self.own_leads[role]
        if model == "crm.access.request":
            return self.requests[role]
        records = self.env[model].with_context(active_test=False).search([], limit=20)
        writable = records.with_user(user)._filtered_access("write") if records else records
        return (writable or records)[:1].with_env(self.env)

    def _victims(self, comodel, user):
        """A record of ``comodel`` the attacker may not write, one they may not delete."""
        Model = self.env[comodel].with_context(active_test=False)
        records = Model.search([], limit=30, order="id desc") if Model._auto else Model
        not_writable = records - records.with_user(user)._filtered_access("write")
        not_deletable = records - records.with_user(user)._filtered_access("unlink")
        return not_writable[:1], not_deletable[:1]

    def _marker_field(self, comodel):
        fields_ = self.env[comodel]._fields
        for name in MARKER_FIELDS:
            field = fields_.get(name)
            if field and field.store and field.type in ("char", "text", "html"):
                return name
        return None

    def _probe(self, action, check):
        """Run ``action``; if it succeeds, ``check()`` returns what escaped (or None)."""
        try:
            with self.env.cr.savepoint():
                action()
                self.env.flush_all()
                self.env.invalidate_all()
                raise _Probe(check())
        except _Probe as probe:
            return probe.args[0]
        except Exception:  # refused: the savepoint undid everything
            return None
        finally:
            self.env.invalidate_all()

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule", "odoo.models.unlink")
    def test_x2many_commands_of_lower_roles(self):
        escaped = []
        probes = 0
        for model in self._addon_models():
            for field in self._x2many_fields(model):
                comodel = field.comodel_name
                marker = self._marker_field(comodel)
                for role in ATTACKERS:
                    user = self.users[role]
                    target = self._target(model, user, role)
                    not_writable, not_deletable = self._victims(comodel, user)
                    Comodel = self.env[comodel].with_context(active_test=False)
                    commands = []
                    if marker:
                        tag = f"attack-{uuid.uuid4().hex[:8]}"
                        if not Comodel.with_user(user).has_access("create"):
                            commands.append(
                                (
                                    (0, 0, {marker: tag}),
                                    lambda tag=tag, marker=marker, Comodel=Comodel: (
                                        Comodel.search_count([(marker, "=", tag)]) and "created"
                                    ),
                                )
                            )
                        if not_writable:
                            commands.append(
                                (
                                    (1, not_writable.id, {marker: tag}),
                                    lambda tag=tag, marker=marker, victim=not_writable: (
                                        victim[marker] == tag and "updated"
                                    ),
                                )
                            )
                    if not_deletable:
                        commands.append(
                            (
                                (2, not_deletable.id),
                                lambda victim=not_deletable: (not victim.exists() and "deleted"),
                            )
                        )
                    for command, check in commands:
                        if (model, field.name, command[0]) in STOCK:
                            continue
                        values = {field.name: [command]}
                        create = {**self._create_values(model, role), **values}
                        actions = [
                            (
                                "create",
                                lambda v=create, u=user, m=model: self.env[m]
                                .with_user(u)
                                .create(v),
                            )
                        ]
                        if target:
                            actions.append(
                                (
                                    "write",
                                    lambda v=values, u=user, t=target: t.with_user(u).write(v),
                                )
                            )
                        for operation, action in actions:
                            probes += 1
                            result = self._probe(action, check)
                            if result:
                                escaped.append(
                                    f"{role}: {model}.{operation}({field.name}="
                                    f"[({command[0]}, ...)]) {result} a {comodel}"
                                )
        self.assertGreater(probes, 500)
        self.assertEqual(escaped, [], "\n".join(escaped))


@tagged("post_install", "-at_install")
class TestSudoInventory(RoleMatrixCommon):
    """Every sudo() of the addon says, next to it, why it is safe (``# sudo: ...``)."""

    def test_every_sudo_has_a_reason(self):
        missing = []
        count = 0
        for path in sorted(ADDON.rglob("*.py")):
            if "tests" in path.relative_to(ADDON).parts:
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            for number, line in enumerate(lines):
                # sudo(False) drops the superuser: not counted
                if not re.search(r"\.sudo\((True)?\)|(?<!def )\bsudo_clean\(", line):
                    continue
                count += 1
                context = "\n".join(lines[max(0, number - 3) : number + 1])
                where = f"{path.relative_to(ADDON)}:{number + 1}: {line.strip()}"
                if "sudo:" not in context:
                    missing.append(where)
                # a create as superuser takes the caller's default_* keys: sudo_clean
                if re.search(r"\.sudo\(\).*\.(create|activity_schedule)\(", line):
                    missing.append(f"{where} (create without sudo_clean)")
        self.assertGreater(count, 20)
        self.assertEqual(missing, [], "sudo() without a reason:\n" + "\n".join(missing))


@tagged("post_install", "-at_install")
class TestCriticalOverXmlRpc(RoleMatrixCommon, HttpCase):
    """Finding 1 over the wire: an employee without a CRM role, on a running server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee = mail_new_test_user(
            cls.env, login="rm_rpc_employee", name="RPC Employee", groups="base.group_user"
        )
        cls.victim = cls._lead(cls.other_salesperson, cls.other_team)

    def call(self, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            self.employee.id,
            "rm_rpc_employee",
            "crm.access.request",
            method,
            list(args),
            kwargs,
        )

    def values(self, **values):
        until = fields.Datetime.to_string(fields.Datetime.now() + timedelta(days=30))
        return {"reason": "x", "date_end": until, **values}

    def test_commands_over_xmlrpc(self):
        name = self.victim.name
        leads = self.env["crm.lead"].search_count([])
        members = self.other_team.crm_team_member_ids
        message = self.victim.message_post(body="Terms", message_type="comment")
        for values in (
            {"lead_ids": [(1, self.victim.id, {"name": "Rewritten"})]},
            {"lead_ids": [(2, self.victim.id)]},
            {"lead_ids": [(0, 0, {"name": "Planted"})]},
            {
                "request_type": "teams",
                "team_ids": [
                    (
                        1,
                        self.other_team.id,
                        {"crm_team_member_ids": [(0, 0, {"user_id": self.employee.id})]},
                    )
                ],
            },
            {"message_ids": [(1, message.id, {"res_id": 0})]},
            {"state": "approved"},
        ):
            with self.subTest(values=list(values)), self.assertRaises(Fault) as caught:
                self.call("create", [self.values(**values)])
            self.assertRegex(caught.exception.faultString, "takes ids only|does not let you set")
        # defaults in the context do not decide
        request_id = self.call(
            "create",
            [self.values(lead_ids=[self.victim.id])],
            context={"default_state": "approved", "default_approver_id": self.employee.id},
        )[0]
        request = self.env["crm.access.request"].browse(request_id)
        self.assertEqual((request.state, request.approver_id.id), ("pending", False))
        self.victim.invalidate_recordset()
        self.assertEqual(self.victim.name, name)
        self.assertEqual(self.env["crm.lead"].search_count([]), leads)
        self.assertEqual(self.other_team.crm_team_member_ids, members)
        self.assertEqual(message.res_id, self.victim.id)
        # by id, the request is made and waits
        self.assertEqual(request.sudo().lead_ids, self.victim)
