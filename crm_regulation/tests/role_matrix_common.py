from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase

from odoo.addons.mail.tests.common import mail_new_test_user

ROLES = (
    "salesperson",
    "senior_salesperson",
    "head_of_sales",
    "crm_admin",
    "marketer",
    "support",
    "accountant",
)
SCOPES = ("own", "team", "sub-team", "other team")
OPERATIONS = ("read", "create", "write", "unlink", "export")


class _Rollback(Exception):
    pass


class RoleMatrixCommon(TransactionCase):
    """A three-level team tree and one user per role.

    Sales (leader: the head of sales; members: the salesperson, a colleague, the senior)
      └ Sales North (member: a sub-team salesperson)
          └ Sales North-East (member: another sub-team salesperson)
    Other Sales (leader and member: someone else)
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # the regulation enforced on the tests' teams (and leads without a team), the role
        # matrix applied to Odoo's own Sales groups too (both off at install: test_rollout)
        cls.env.ref("base.main_company").write(
            {"crm_regulation_mode": "enforce", "crm_role_matrix_for_sales_groups": True}
        )
        cls.users = {
            role: cls._user(f"rm_{role}", role.replace("_", " ").title(), role) for role in ROLES
        }
        cls.colleague = cls._user("rm_colleague", "Colleague", "salesperson")
        cls.sub_salesperson = cls._user("rm_sub", "Sub-team Salesperson", "salesperson")
        cls.subsub_salesperson = cls._user("rm_subsub", "Sub-sub Salesperson", "salesperson")
        cls.other_salesperson = cls._user("rm_other", "Other Salesperson", "salesperson")
        cls.other_head = cls._user("rm_other_head", "Other Head", "head_of_sales")
        Team = cls.env["crm.team"]
        cls.team = Team.create(
            {
                "name": "Sales",
                "user_id": cls.users["head_of_sales"].id,
                "member_ids": [
                    (
                        6,
                        0,
                        [
                            cls.users["salesperson"].id,
                            cls.colleague.id,
                            cls.users["senior_salesperson"].id,
                        ],
                    )
                ],
            }
        )
        cls.sub_team = Team.create(
            {
                "name": "Sales North",
                "parent_id": cls.team.id,
                "member_ids": [(6, 0, cls.sub_salesperson.ids)],
            }
        )
        cls.subsub_team = Team.create(
            {
                "name": "Sales North-East",
                "parent_id": cls.sub_team.id,
                "member_ids": [(6, 0, cls.subsub_salesperson.ids)],
            }
        )
        cls.other_team = Team.create(
            {
                "name": "Other Sales",
                "user_id": cls.other_head.id,
                "member_ids": [(6, 0, cls.other_salesperson.ids)],
            }
        )
        cls.scope_owner = {
            "team": (cls.colleague, cls.team),
            "sub-team": (cls.sub_salesperson, cls.sub_team),
            "other team": (cls.other_salesperson, cls.other_team),
        }
        cls.won_stage = cls.env["crm.stage"].create({"name": "Won (matrix)", "is_won": True})

    @classmethod
    def _user(cls, login, name, role):
        return mail_new_test_user(
            cls.env,
            login=login,
            name=name,
            email=f"{login}@example.com",
            groups=f"crm_regulation.group_{role}",
        )

    @classmethod
    def _lead(cls, user, team, won=False, **values):
        lead = cls.env["crm.lead"].create(
            {
                "name": f"{user.name} / {team.name}{' (won)' if won else ''}",
                "type": "opportunity",
                "user_id": user.id,
                "team_id": team.id,
                "expected_revenue": 1000,
                "description": "<p>internal</p>",
                **values,
            }
        )
        if won:
            lead.stage_id = cls.won_stage
        return lead

    def _owner(self, role, scope):
        if scope == "own":
            return self.users[role], self.team
        return self.scope_owner[scope]

    def attempt(self, function):
        """Whether ``function`` succeeds; its effects are rolled back either way."""
        try:
            with self.env.cr.savepoint():
                function()
                self.env.flush_all()
                raise _Rollback
        except _Rollback:
            return True
        except (AccessError, UserError):
            return False
        finally:
            self.env.invalidate_all()
