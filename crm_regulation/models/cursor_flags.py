"""Flags kept on the database cursor while a call runs: which leads are being lost by
``action_set_lost``, returned to work, merged into another lead, or created by the mail
gateway; and what the field access of leads memoizes per user. On the cursor, never in the
context: a client can pass any context over RPC."""

from contextlib import contextmanager

LOSING = "crm_regulation.losing"  # being lost by action_set_lost
RESTORING = "crm_regulation.restoring"  # returned to work with a reason, or won
MAIL_GATEWAY = "crm_regulation.mail_gateway"  # the leads created now come from an email
MERGED = "crm_regulation.merged"  # {merged lead id: lead it went into}
READER_PROFILES = "crm_regulation.reader_profiles"  # {uid: the user's reader profile}
UNTRACKED = "crm_regulation.untracked"  # [fields the writes in progress leave alone]
SYSTEM_WRITE = "crm_regulation.system_write"  # the write path's own write of system fields
PLS_RECLASSIFY = "crm_regulation.pls_reclassify"  # a lost lead's outcome changed category
PLS_REBUILD = "crm_regulation.pls_rebuild"  # the scoring frequencies rebuilt from every lead
PLS_PENDING = "crm_regulation.pls_pending"  # [scoring increments a write makes at its end]
PLS_DEFERRED = "crm_regulation.pls_deferred"  # those increments being made (filtered already)
NORMALIZING = "crm_regulation.normalizing"  # the normalization of existing data writes
UTM_OWN_SOURCE = "crm_regulation.utm_own_source"  # a record's own UTM source (utm.source.mixin)
# the id under which a flag stands for the whole call (``flag(env, MAIL_GATEWAY)``)
WHOLE_CALL = 0


def flags(env, key):
    """The flags under ``key`` ({id: value}), to read or to fill for a later call."""
    return env.cr.cache.setdefault(key, {})


def flagged(env, key):
    """The flags under ``key`` ({id: value}; empty when none)."""
    return env.cr.cache.get(key) or {}


@contextmanager
def flag(env, key, ids=(WHOLE_CALL,), value=True):
    """Flag ``ids`` under ``key`` while the block runs (ids flagged by a caller stay
    flagged after it)."""
    current = flags(env, key)
    added = [record_id for record_id in ids if record_id not in current]
    current.update(dict.fromkeys(added, value))
    try:
        yield
    finally:
        for record_id in added:
            current.pop(record_id, None)


@contextmanager
def pushed(env, key, value):
    """Push ``value`` on the stack under ``key`` while the block runs (nested calls push
    theirs: the innermost is ``stack(env, key)[-1]``)."""
    current = env.cr.cache.setdefault(key, [])
    current.append(value)
    try:
        yield
    finally:
        current.pop()


def stack(env, key):
    """The stack under ``key`` (empty when none)."""
    return env.cr.cache.get(key) or ()
