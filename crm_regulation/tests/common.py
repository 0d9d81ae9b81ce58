import importlib.util
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import TransactionCase

from odoo.addons.mail.tests.common import mail_new_test_user


class CrmRegulationCommon(TransactionCase):
    """Fixtures shared by the capability tests: a sales team with the regulation's funnel,
    one user per role, and helpers to move time (``cr.now()`` included)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.ref("base.main_company")
        # the regulation enforced on the tests' teams (and leads without a team), the role
        # matrix applied to Odoo's own Sales groups too (both off at install: test_rollout)
        cls.env.ref("base.main_company").write(
            {"crm_regulation_mode": "enforce", "crm_role_matrix_for_sales_groups": True}
        )
        cls.user_salesman = mail_new_test_user(
            cls.env,
            login="reg_salesman",
            name="Sasha Salesman",
            email="sasha@example.com",
            groups="sales_team.group_sale_salesman",
        )
        cls.user_salesman_2 = mail_new_test_user(
            cls.env,
            login="reg_salesman_2",
            name="Pavel Salesman",
            email="pavel@example.com",
            groups="sales_team.group_sale_salesman",
        )
        cls.user_manager = mail_new_test_user(
            cls.env,
            login="reg_manager",
            name="Maria Head of Sales",
            email="maria@example.com",
            groups="sales_team.group_sale_manager",
        )
        cls.team = cls.env["crm.team"].create(
            {
                "name": "Regulated Team",
                "user_id": cls.user_manager.id,
                "member_ids": [(6, 0, [cls.user_salesman.id, cls.user_salesman_2.id])],
            }
        )
        Stage = cls.env["crm.stage"]
        names = ["New Lead", "Qualification", "Presentation", "Proposal", "Negotiation", "Contract"]
        cls.stages = Stage.create(
            [
                {"name": name, "sequence": 200 + index, "team_ids": [(6, 0, cls.team.ids)]}
                for index, name in enumerate(names)
            ]
        )
        (
            cls.stage_new,
            cls.stage_qualification,
            cls.stage_presentation,
            cls.stage_proposal,
            cls.stage_negotiation,
            cls.stage_contract,
        ) = cls.stages
        cls.stage_won = Stage.create(
            {"name": "Won", "sequence": 299, "is_won": True, "team_ids": [(6, 0, cls.team.ids)]}
        )
        cls.lost_reason = cls.env["crm.lost.reason"].create({"name": "Chose a competitor"})

    @classmethod
    def _create_leads(cls, count, user=None, stage=None, **values):
        user = user or cls.user_salesman
        # created by the salesperson, returned in the test's own environment
        leads = (
            cls.env["crm.lead"]
            .with_user(user)
            .create(
                [
                    {
                        "name": f"Lead {index}",
                        "type": "opportunity",
                        "team_id": cls.team.id,
                        "user_id": user.id,
                        "stage_id": (stage or cls.stage_new).id,
                        **values,
                    }
                    for index in range(count)
                ]
            )
        )
        return leads.with_env(cls.env)

    @classmethod
    def _calendar(cls, name, tz, hours, days=(0, 1, 2, 3, 4)):
        """A working calendar: ``hours`` ((from, to), ...) on ``days`` (0: Monday)."""
        return cls.env["resource.calendar"].create(
            {
                "name": name,
                "tz": tz,
                "attendance_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"{day} {start}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": end,
                        },
                    )
                    for day in days
                    for start, end in hours
                ],
            }
        )

    @classmethod
    def _field(cls, *names):
        """ir.model.fields records of crm.lead, for required fields."""
        return cls.env["ir.model.fields"].search(
            [("model", "=", "crm.lead"), ("name", "in", list(names))]
        )

    @classmethod
    def _rule(cls, **values):
        return cls.env["crm.regulation.rule"].create(
            {"name": "Rule", "team_ids": [(6, 0, cls.team.ids)], **values}
        )

    @classmethod
    def _stage_action(cls, stage):
        """A server action ("update the record") that moves leads to ``stage``: what an
        automated action runs."""
        return cls.env["ir.actions.server"].create(
            {
                "name": f"Move to {stage.name}",
                "model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "state": "object_write",
                "update_path": "stage_id",
                "evaluation_type": "value",
                "resource_ref": f"crm.stage,{stage.id}",
            }
        )

    @contextmanager
    def at(self, when):
        """Run the block at ``when`` (naive UTC), for Python's clock and ``cr.now()`` alike."""
        when = datetime.fromisoformat(when) if isinstance(when, str) else when
        with freeze_time(when), patch.object(self.env.cr, "now", lambda: when):
            yield

    @contextmanager
    def query_count(self, expected):
        """The block runs exactly ``expected`` queries, flushes included (Odoo's
        ``assertQueryCount`` checks only under its ``warmup`` decorator)."""
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        yield
        self.env.flush_all()
        self.assertEqual(self.env.cr.sql_log_count - before, expected, "queries")

    @contextmanager
    def refused(self, text, exception=UserError):
        """The block raises ``exception`` saying ``text`` (``assertRaises`` rolls back what
        it did; ``assertRaisesRegex`` would not)."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertIn(text, str(caught.exception))

    def history(self, leads):
        return (
            self.env["crm.lead.stage.history"]
            .sudo()
            .search([("lead_id", "in", leads.ids)], order="lead_id, date_in, id")
        )

    def open_stays(self, leads):
        return self.history(leads).filtered(lambda stay: not stay.date_out)


def load_migration(version, phase="post"):
    """The module of ``migrations/<version>/<phase>-migration.py`` (its ``migrate``)."""
    path = Path(__file__).parents[1] / "migrations" / version / f"{phase}-migration.py"
    spec = importlib.util.spec_from_file_location(f"crm_regulation_{phase}_{version}", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration
