"""19.0.1.6.0: the partial index of closed stays without business hours is gone (they are
computed when a stay closes); its predicate column made every close a non-HOT update."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("DROP INDEX IF EXISTS crm_lead_stage_history_unfilled_idx")
    cr.execute("DELETE FROM ir_model_constraint WHERE name = 'crm_lead_stage_history_unfilled_idx'")
