"""The role matrix as data: who may do what on leads, contacts and tasks. The tests check
every cell against what Odoo enforces and write the README tables from it; the regulation
document prints it (report/crm_regulation_document.py)."""

# scopes of leads and contacts: a lead assigned to the user in their team, a colleague's in
# the same team, a lead of a sub-team of the user's team, a team outside the user's tree
SCOPES = ("own", "team", "sub-team", "other team")
OPERATIONS = ("read", "create", "write", "unlink", "export")
TASK_SCOPES = ("own", "colleague's")
TASK_OPERATIONS = ("write", "done", "unlink")

# role -> operation -> one cell per scope: "yes", "no", "won" (won leads only; the
# Accountant: won leads and leads with a signed contract), "fields" (only the role's own
# fields: UTM for the Marketer, contract and payment for the Accountant)
LEAD_MATRIX = {
    "salesperson": {
        "read": "yes no no no",
        "create": "yes no no no",
        "write": "yes no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "senior_salesperson": {
        "read": "yes yes no no",
        "create": "yes no no no",
        "write": "yes no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "head_of_sales": {
        "read": "yes yes yes no",
        "create": "yes yes yes no",
        "write": "yes yes yes no",
        "unlink": "no no no no",
        "export": "yes yes yes no",
    },
    "crm_admin": {
        "read": "yes yes yes yes",
        "create": "yes yes yes yes",
        "write": "yes yes yes yes",
        "unlink": "yes yes yes yes",
        "export": "yes yes yes yes",
    },
    "marketer": {
        "read": "yes yes yes yes",
        "create": "no no no no",
        "write": "fields fields fields fields",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "support": {
        "read": "won won won won",
        "create": "no no no no",
        "write": "no no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "accountant": {
        "read": "won won won won",
        "create": "no no no no",
        "write": "fields fields fields fields",
        "unlink": "no no no no",
        "export": "no no no no",
    },
}

# the customers of the leads of each scope, as the role reaches them
CONTACT_MATRIX = {
    "salesperson": {
        "read": "yes no no no",
        "create": "yes yes yes yes",
        "write": "yes no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "senior_salesperson": {
        "read": "yes yes no no",
        "create": "yes yes yes yes",
        "write": "yes no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "head_of_sales": {
        "read": "yes yes yes no",
        "create": "yes yes yes yes",
        "write": "yes yes yes no",
        "unlink": "yes yes yes no",
        "export": "yes yes yes no",
    },
    "crm_admin": {
        "read": "yes yes yes yes",
        "create": "yes yes yes yes",
        "write": "yes yes yes yes",
        "unlink": "yes yes yes yes",
        "export": "yes yes yes yes",
    },
    "marketer": {
        "read": "no no no no",
        "create": "yes yes yes yes",
        "write": "no no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "support": {
        "read": "won won won won",
        "create": "yes yes yes yes",
        "write": "no no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
    "accountant": {
        "read": "won won won won",
        "create": "yes yes yes yes",
        "write": "no no no no",
        "unlink": "no no no no",
        "export": "no no no no",
    },
}

# the tasks on a lead of the role's own: assigned to them, or to a colleague
TASK_MATRIX = {
    "salesperson": {"write": "yes no", "done": "yes no", "unlink": "yes no"},
    "senior_salesperson": {"write": "yes no", "done": "yes no", "unlink": "yes no"},
    "head_of_sales": {"write": "yes yes", "done": "yes yes", "unlink": "yes yes"},
    "crm_admin": {"write": "yes yes", "done": "yes yes", "unlink": "yes yes"},
    "marketer": {"write": "yes no", "done": "yes no", "unlink": "yes no"},
    "support": {"write": "yes no", "done": "yes no", "unlink": "yes no"},
    "accountant": {"write": "yes no", "done": "yes no", "unlink": "yes no"},
}


def tables(env):
    """The three tables in the user's language: [(title, scopes, [(role, operation,
    [cell, ...]), ...]), ...]."""
    scope_names = {
        "own": env._("own"),
        "team": env._("team"),
        "sub-team": env._("sub-team"),
        "other team": env._("other team"),
        "colleague's": env._("colleague's"),
    }
    operation_names = {
        "read": env._("read"),
        "create": env._("create"),
        "write": env._("edit"),
        "unlink": env._("delete"),
        "export": env._("export"),
        "done": env._("mark done"),
    }
    cells = {"yes": "✓", "no": "—", "won": env._("won only"), "fields": env._("own fields")}
    # sudo: the names of the roles (groups), for the document
    groups = env["res.groups"].sudo()
    result = []
    for title, scopes, matrix in (
        (env._("Leads"), SCOPES, LEAD_MATRIX),
        (env._("Contacts"), SCOPES, CONTACT_MATRIX),
        (env._("Tasks on one's own leads"), TASK_SCOPES, TASK_MATRIX),
    ):
        rows = [
            (
                groups.browse(env.ref(f"crm_regulation.group_{role}").id).name,
                operation_names[operation],
                [cells[cell] for cell in line.split()],
            )
            for role, operations in matrix.items()
            for operation, line in operations.items()
        ]
        result.append((title, [scope_names[s] for s in scopes], rows))
    return result
