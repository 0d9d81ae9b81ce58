"""What callers may hand to the ORM: no ``default_*`` key of theirs reaches a superuser
environment, and x2many values that name records by id only."""

from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tools.misc import clean_context


def sudo_clean(records):
    """``records`` as superuser without the caller's ``default_*`` context keys: Odoo applies
    those to every record created in that environment, x2many commands included (a
    ``default_attachment_ids`` would create attachments as superuser)."""
    # sudo: the callers' reasons are at their call (each says why); no default passes
    context = clean_context(records.env.context)
    return records.sudo().with_context(context)  # pylint: disable=context-overridden


def ids_commands(env, fname, value):
    """An x2many value of a caller as commands that name records by id only (a list of
    ids, set / link / unlink / clear): no other command passes, they would create, change
    or delete the related records (as superuser, where the value ends in a sudo write)."""

    def is_id(item):
        return isinstance(item, int) and not isinstance(item, bool) and item > 0

    commands = []
    for item in value or ():
        if is_id(item):
            commands.append(Command.link(item))
        elif isinstance(item, (list, tuple)) and item:
            code = item[0]
            if code == Command.SET and len(item) == 3 and all(map(is_id, item[2] or ())):
                commands.append(Command.set(list(item[2] or ())))
            elif code in (Command.LINK, Command.UNLINK) and len(item) >= 2 and is_id(item[1]):
                commands.append((code, item[1], 0))
            elif code == Command.CLEAR:
                commands.append(Command.clear())
            else:
                raise AccessError(
                    env._(
                        "“%s” takes ids only (no record is created, changed or deleted "
                        "through it).",
                        fname,
                    )
                )
        else:
            raise AccessError(env._("“%s” takes ids only.", fname))
    return commands
