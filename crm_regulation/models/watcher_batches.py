"""The watchers' batching idiom, shared by every cron that works through due records: locked
batches (several workers skip each other's records), re-read after the lock, processed as
superuser, progress committed after each batch (the cron reruns the job while time is up and
records remain)."""


def run_locked_batches(model, record_ids, batch_size, process):
    """Run ``process`` on locked batches of ``record_ids`` of ``model``: the number done."""
    Cron = model.env["ir.cron"]
    Cron._commit_progress(remaining=len(record_ids))
    todo = list(record_ids)
    done = 0
    while todo:
        batch = model.browse(todo[: batch_size * 4]).try_lock_for_update(limit=batch_size)
        if not batch:
            # all locked by another worker: it is processing them
            Cron._commit_progress(remaining=0)
            break
        locked = set(batch.ids)
        todo = [record_id for record_id in todo if record_id not in locked]
        batch.invalidate_recordset()  # what another worker committed before our lock
        # notification emails go to the mail queue, not sent at each batch's commit
        # sudo: a watcher cron's batch; no caller values
        process(batch.sudo().with_context(mail_notify_force_send=False))
        done += len(batch)
        if not Cron._commit_progress(len(batch), remaining=len(todo)):
            break
    return done
