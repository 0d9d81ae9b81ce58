import os
import re
from pathlib import Path

from odoo.addons.crm_regulation.models.role_matrix import LEAD_MATRIX, tables

from .common import load_migration
from .role_matrix_common import OPERATIONS, ROLES, SCOPES, RoleMatrixCommon

# The role matrix as the issue states it: role -> operation -> cell for the four scopes.
# "won" = won leads only; "fields" = only the role's own fields (UTM for the Marketer,
# contract and payment for the Accountant).
EXPECTED = LEAD_MATRIX
ROLE_FIELDS = {"marketer": {"source_id": False}, "accountant": {"contract_signed": True}}
SYMBOLS = {"yes": "✅", "no": "—", "won": "won only", "fields": "own fields"}
README = Path(__file__).resolve().parents[2] / "README.md"
MARKERS = ("<!-- role-matrix:start -->", "<!-- role-matrix:end -->")


class TestRoleMatrix(RoleMatrixCommon):
    """Every role x operation x scope cell, as that user, through the ORM."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.leads = {}
        for role in ROLES:
            for scope in SCOPES:
                if scope == "own":
                    user, team = cls.users[role], cls.team
                else:
                    user, team = cls.scope_owner[scope]
                cls.leads[role, scope] = (cls._lead(user, team), cls._lead(user, team, won=True))

    def _cell(self, role, operation, scope):
        user = self.users[role]
        open_lead, won_lead = self.leads[role, scope]
        if operation == "read":
            results = []
            for lead in (open_lead, won_lead):
                as_user = lead.with_user(user)
                read = self.attempt(lambda as_user=as_user: as_user.read(["name", "user_id"]))
                found = bool(as_user.search_count([("id", "=", lead.id)]))
                self.assertEqual(read, found, f"{role}: read and search disagree on {lead.name}")
                results.append(read)
            return {(True, True): "yes", (False, True): "won"}.get(tuple(results), "no")
        lead = open_lead.with_user(user)
        if operation == "create":
            owner, team = self._owner(role, scope)
            values = {"name": "New", "user_id": owner.id, "team_id": team.id}
            return "yes" if self.attempt(lambda: lead.create(values)) else "no"
        if operation == "write":
            if self.attempt(lambda: lead.write({"name": "Renamed"})):
                return "yes"
            if role in ROLE_FIELDS:
                # on the leads the role reads (the Accountant: won and signed ones)
                values = ROLE_FIELDS[role]
                target = lead if role != "accountant" else won_lead.with_user(user)
                return "fields" if self.attempt(lambda: target.write(values)) else "no"
            return "no"
        if operation == "unlink":
            return "yes" if self.attempt(lead.unlink) else "no"
        if operation == "export":
            return "yes" if self.attempt(lambda: lead.export_data(["name"])) else "no"
        raise ValueError(operation)

    def test_matrix(self):
        observed = {
            role: {
                operation: " ".join(self._cell(role, operation, scope) for scope in SCOPES)
                for operation in OPERATIONS
            }
            for role in ROLES
        }
        check_matrix(self, observed, EXPECTED, SCOPES, MARKERS)


def check_matrix(test, observed, expected, scopes, markers):
    """Each observed cell ({role: {operation: "cell cell ..."}}) is the expected one, and
    README shows the table between ``markers``."""
    for role, operations in expected.items():
        for operation, cells in operations.items():
            with test.subTest(role=role, operation=operation):
                test.assertEqual(
                    observed[role][operation], cells, f"{role} / {operation} ({' | '.join(scopes)})"
                )
    groups = test.env["res.groups"]
    lines = ["| role | operation | " + " | ".join(scopes) + " |", "|" + "---|" * (len(scopes) + 2)]
    for role, operations in expected.items():
        name = groups.browse(test.env.ref(f"crm_regulation.group_{role}").id).name
        for operation in operations:
            cells = [SYMBOLS[c] for c in observed[role][operation].split()]
            lines.append(f"| {name} | {operation} | " + " | ".join(cells) + " |")
    write_readme_block(test, markers, "\n".join(lines))


def write_readme_block(test, markers, table):
    """Assert that README shows ``table`` between ``markers`` (CRM_REGULATION_WRITE_MATRIX=1
    rewrites it there first)."""
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    block = f"{markers[0]}\n{table}\n{markers[1]}"
    if os.environ.get("CRM_REGULATION_WRITE_MATRIX"):
        text = re.sub(
            re.escape(markers[0]) + ".*?" + re.escape(markers[1]), block, text, flags=re.S
        )
        README.write_text(text, encoding="utf-8")
    if README.exists():
        test.assertTrue(
            block in text,
            "README's role matrix differs from the enforced one; run the test with "
            "CRM_REGULATION_WRITE_MATRIX=1 to rewrite it:\n" + table,
        )


class TestRoleMatrixDocument(RoleMatrixCommon):
    def test_the_regulation_document_prints_the_matrix(self):
        """The team's regulation document shows who may do what, from the data the matrix
        tests check against Odoo (and write in README)."""
        html = (
            self.env["ir.actions.report"]
            .with_user(self.users["head_of_sales"])
            ._render_qweb_html("crm_regulation.action_report_sales_regulation_html", self.team.ids)[
                0
            ]
            .decode()
        )
        self.assertIn("Who may do what", html)
        self.assertEqual(html.count("o_crm_regulation_role_matrix"), 3)
        for table in tables(self.env):
            for role, operation, cells in table[2]:
                row = "".join(f"<td>{value}</td>" for value in (role, operation, *cells))
                self.assertIn(row, re.sub(r">\s+<", "><", html))


class TestRoleMatrixUpgrade(RoleMatrixCommon):
    def test_the_accountants_rule_is_renamed_at_upgrade(self):
        """19.0.1.11.0: the Accountant's rule (noupdate) says what it shows now."""
        rule = self.env.ref("crm_regulation.crm_lead_rule_accountant")
        rule.name = "Leads: all (accounting)"
        migration = load_migration("19.0.1.11.0")
        for _run in range(2):  # twice: the same
            migration.migrate(self.env.cr, "19.0.1.10.0")
            self.assertEqual(rule.name, "Leads: won and with a signed contract (accounting)")
        # the rule still shows the accountant the won leads only
        self.assertEqual(rule.domain_force, "[('regulation_scope', '=', 'accountant')]")
