import pathlib
import re
from datetime import datetime
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.sql_db import Cursor
from odoo.tests import Form, TransactionCase, tagged
from odoo.tools import SQL

from .common import CrmRegulationCommon


@tagged("post_install", "-at_install", "crm_regulation")
class TestStageHistory(CrmRegulationCommon):
    def test_create_opens_stay(self):
        with self.at("2026-03-02 09:00:00"):
            lead = self._create_leads(1)
        stay = self.history(lead)
        self.assertEqual(len(stay), 1)
        self.assertEqual(stay.stage_id, self.stage_new)
        self.assertEqual(stay.team_id, self.team)
        self.assertEqual(stay.user_id, self.user_salesman)
        self.assertEqual(stay.company_id, lead.company_id)
        self.assertEqual(stay.date_in, datetime(2026, 3, 2, 9, 0))
        self.assertEqual(stay.date_in, lead.date_last_stage_update)
        self.assertFalse(stay.date_out)
        self.assertFalse(stay.end_reason)
        self.assertFalse(stay.duration_hours)
        self.assertTrue(stay.is_open)
        self.assertEqual(lead.stage_history_count, 1)

    def test_create_with_default_stage(self):
        """No stage given: crm puts the lead in the team's first stage, and the stay opens."""
        lead = (
            self.env["crm.lead"]
            .with_user(self.user_salesman)
            .create({"name": "Inbound request", "team_id": self.team.id})
        )
        self.assertTrue(lead.stage_id)
        self.assertEqual(self.open_stays(lead).stage_id, lead.stage_id)

    def test_create_lost_lead_has_no_open_stay(self):
        lead = self._create_leads(
            1, active=False, probability=0, lost_reason_id=self.lost_reason.id
        )
        self.assertFalse(self.history(lead))

    def test_stage_change_closes_and_opens(self):
        with self.at("2026-03-02 09:00:00"):
            lead = self._create_leads(1)
        with self.at("2026-03-03 12:30:00"):
            lead.with_user(self.user_salesman).write({"stage_id": self.stage_qualification.id})
        first, second = self.history(lead)
        self.assertEqual(first.stage_id, self.stage_new)
        self.assertEqual(first.date_out, datetime(2026, 3, 3, 12, 30))
        self.assertAlmostEqual(first.duration_hours, 27.5)
        self.assertEqual(first.end_reason, "moved")
        self.assertFalse(first.is_open)
        self.assertEqual(second.stage_id, self.stage_qualification)
        self.assertEqual(second.date_in, datetime(2026, 3, 3, 12, 30))
        self.assertFalse(second.date_out)
        self.assertEqual(lead.stage_history_count, 2)

    def test_repeated_ids_open_one_stay(self):
        """``write([5, 5], ...)`` (an RPC client may repeat ids) moves the lead once."""
        lead = self._create_leads(1)
        self.env["crm.lead"].browse([lead.id, lead.id]).write(
            {"stage_id": self.stage_qualification.id}
        )
        self.assertEqual(len(self.open_stays(lead)), 1)
        self.assertEqual(len(self.history(lead)), 2)

    def test_same_stage_and_other_fields_write_nothing(self):
        lead = self._create_leads(1)
        lead.write({"stage_id": self.stage_new.id})
        lead.write({"name": "Renamed", "expected_revenue": 1000, "probability": 30})
        self.assertEqual(len(self.history(lead)), 1)

    def test_back_and_forth(self):
        lead = self._create_leads(1)
        for stage in (self.stage_qualification, self.stage_new, self.stage_qualification):
            lead.stage_id = stage
        stays = self.history(lead)
        self.assertEqual(stays.mapped("stage_id"), self.stage_new | self.stage_qualification)
        self.assertEqual(len(stays), 4)
        self.assertEqual(stays.mapped("end_reason"), ["moved", "moved", "moved", False])
        self.assertEqual(len(self.open_stays(lead)), 1)

    def test_batch_write_mixed_stages(self):
        """One write() on leads coming from several stages, some already in the target."""
        leads_new = self._create_leads(20)
        leads_target = self._create_leads(5, stage=self.stage_proposal)
        leads = leads_new | leads_target
        leads.write({"stage_id": self.stage_proposal.id})
        for lead in leads_new:
            stays = self.history(lead)
            self.assertEqual(stays.mapped("stage_id"), self.stage_new | self.stage_proposal)
            self.assertEqual(stays[0].end_reason, "moved")
        for lead in leads_target:
            self.assertEqual(len(self.history(lead)), 1)
        self.assertEqual(len(self.open_stays(leads)), 25)
        self.assertEqual(self.open_stays(leads).stage_id, self.stage_proposal)

    def test_batch_write_query_count_constant(self):
        """One write() on 1,000 leads: every lead gets its rows, and the history costs two
        queries (its open stays read, one statement), the same as for 10 leads (crm's own
        flush grows with the batch: chunked UPDATEs; the benchmark compares whole writes
        with stock Odoo)."""
        execute = Cursor.execute

        def history_queries(leads, stage):
            seen = []

            def spy(cursor, query, params=None, log_exceptions=True):
                seen.append(str(query.code if isinstance(query, SQL) else query))
                return execute(cursor, query, params, log_exceptions)

            with patch.object(Cursor, "execute", spy):
                leads.write({"stage_id": stage.id})
                self.env.flush_all()
            return len([query for query in seen if "crm_lead_stage_history" in query])

        small, large = self._create_leads(10), self._create_leads(1000)
        self.assertEqual(history_queries(small, self.stage_qualification), 2)
        self.assertEqual(history_queries(large, self.stage_qualification), 2)
        self.assertEqual(len(self.open_stays(small | large)), 1010)
        self.assertEqual(self.open_stays(large).stage_id, self.stage_qualification)
        self.assertEqual(
            set(self.history(large).filtered("date_out").mapped("end_reason")), {"moved"}
        )

    def test_won(self):
        with self.at("2026-03-02 09:00:00"):
            lead = self._create_leads(1, stage=self.stage_contract)
        with self.at("2026-03-04 09:00:00"):
            lead.with_user(self.user_salesman).action_set_won()
        self.assertEqual(lead.won_status, "won")
        contract, won = self.history(lead)
        self.assertEqual(contract.stage_id, self.stage_contract)
        self.assertEqual(contract.end_reason, "won")
        self.assertAlmostEqual(contract.duration_hours, 48.0)
        self.assertEqual(won.stage_id, self.stage_won)
        self.assertFalse(won.date_out)

    def test_won_by_drag_to_won_stage(self):
        lead = self._create_leads(1, stage=self.stage_contract)
        lead.with_user(self.user_salesman).write({"stage_id": self.stage_won.id})
        self.assertEqual(self.history(lead)[0].end_reason, "won")
        self.assertEqual(self.open_stays(lead).stage_id, self.stage_won)

    def test_lost(self):
        lead = self._create_leads(1, stage=self.stage_negotiation)
        lead.with_user(self.user_salesman).action_set_lost(lost_reason_id=self.lost_reason.id)
        self.assertEqual(lead.won_status, "lost")
        stay = self.history(lead)
        self.assertEqual(len(stay), 1)
        self.assertEqual(stay.stage_id, self.stage_negotiation)
        self.assertEqual(stay.end_reason, "lost")
        self.assertTrue(stay.date_out)
        self.assertFalse(self.open_stays(lead))

    def test_lost_wizard(self):
        leads = self._create_leads(3, stage=self.stage_proposal)
        wizard = Form(
            self.env["crm.lead.lost"]
            .with_user(self.user_salesman)
            .with_context(default_lead_ids=leads.ids)
        )
        wizard.lost_reason_id = self.lost_reason
        wizard.save().action_lost_reason_apply()
        self.assertEqual(set(leads.mapped("won_status")), {"lost"})
        self.assertEqual(self.history(leads).mapped("end_reason"), ["lost"] * 3)
        self.assertFalse(self.open_stays(leads))

    def test_archived(self):
        lead = self._create_leads(1, stage=self.stage_proposal)
        lead.with_user(self.user_salesman).action_archive()
        self.assertEqual(lead.won_status, "pending")
        self.assertEqual(self.history(lead).end_reason, "archived")
        self.assertFalse(self.open_stays(lead))

    def test_won_lead_reopened_then_lost(self):
        lead = self._create_leads(1, stage=self.stage_contract)
        lead.action_set_won()
        lead.stage_id = self.stage_negotiation  # crm refuses to lose a lead in a won stage
        lead.action_set_lost(lost_reason_id=self.lost_reason.id)
        self.assertEqual(self.history(lead).mapped("end_reason"), ["won", "moved", "lost"])
        self.assertEqual(
            self.history(lead).stage_id,
            self.stage_contract | self.stage_won | self.stage_negotiation,
        )

    def test_restore(self):
        with self.at("2026-03-02 09:00:00"):
            lead = self._create_leads(1, stage=self.stage_proposal)
        with self.at("2026-03-03 09:00:00"):
            lead.action_set_lost(lost_reason_id=self.lost_reason.id)
        with self.at("2026-03-10 09:00:00"):
            lead.with_user(self.user_salesman).action_return_to_work("Called back")
        self.assertTrue(lead.active)
        lost_stay, new_stay = self.history(lead)
        self.assertEqual(lost_stay.end_reason, "lost")
        self.assertAlmostEqual(lost_stay.duration_hours, 24.0)
        self.assertEqual(new_stay.stage_id, self.stage_proposal)
        self.assertEqual(new_stay.date_in, datetime(2026, 3, 10, 9, 0))
        self.assertFalse(new_stay.date_out)

    def test_lost_lead_moved_while_lost(self):
        """Editing the stage of a lost lead is no stay: nothing opens until it is restored."""
        lead = self._create_leads(1, stage=self.stage_proposal)
        lead.action_set_lost(lost_reason_id=self.lost_reason.id)
        lead.write({"stage_id": self.stage_negotiation.id})
        self.assertEqual(len(self.history(lead)), 1)
        lead.action_return_to_work("Lost by mistake")
        self.assertEqual(self.open_stays(lead).stage_id, self.stage_negotiation)

    def test_import(self):
        """Import (load) creates and moves leads through the same write path."""
        Lead = self.env["crm.lead"].with_user(self.user_manager)
        result = Lead.load(
            ["name", "team_id/.id", "stage_id/.id", "type"],
            [
                ["Imported 1", str(self.team.id), str(self.stage_new.id), "opportunity"],
                ["Imported 2", str(self.team.id), str(self.stage_proposal.id), "opportunity"],
            ],
        )
        self.assertFalse(result["messages"], result["messages"])
        leads = Lead.browse(result["ids"])
        self.assertEqual(self.open_stays(leads).stage_id, self.stage_new | self.stage_proposal)
        # update by import: the stage moves, the history follows
        result = Lead.load(
            [".id", "stage_id/.id"],
            [[str(leads[0].id), str(self.stage_negotiation.id)]],
        )
        self.assertFalse(result["messages"], result["messages"])
        self.assertEqual(self.history(leads[0]).mapped("end_reason"), ["moved", False])
        self.assertEqual(self.open_stays(leads[0]).stage_id, self.stage_negotiation)

    def test_csv_import_wizard(self):
        """The Import screen (base_import) goes through load() too."""
        if "base_import.import" not in self.env:
            self.skipTest("base_import is not installed")
        csv = f"name,stage_id/.id,team_id/.id\nFrom CSV,{self.stage_proposal.id},{self.team.id}\n"
        wizard = self.env["base_import.import"].create(
            {
                "res_model": "crm.lead",
                "file": csv.encode(),
                "file_type": "text/csv",
                "file_name": "leads.csv",
            }
        )
        result = wizard.execute_import(
            ["name", "stage_id/.id", "team_id/.id"],
            ["name", "stage_id/.id", "team_id/.id"],
            {"quoting": '"', "separator": ",", "has_headers": True},
        )
        self.assertFalse(
            [m for m in result["messages"] if m.get("type") == "error"], result["messages"]
        )
        lead = self.env["crm.lead"].browse(result["ids"])
        self.assertEqual(self.open_stays(lead).stage_id, self.stage_proposal)

    def test_single_open_stay(self):
        """A second open stay for a lead is refused with a clear message."""
        lead = self._create_leads(1)
        with self.assertRaises(ValidationError) as error:
            self.env["crm.lead.stage.history"].create(
                {"lead_id": lead.id, "stage_id": self.stage_new.id, "date_in": datetime.now()}
            )
        self.assertIn("only one stage at a time", str(error.exception))
        self.assertEqual(len(self.history(lead)), 1)

    def test_stage_deleted_keeps_history(self):
        lead = self._create_leads(1, stage=self.stage_presentation)
        lead.stage_id = self.stage_proposal
        stays = self.history(lead)
        self.stage_presentation.unlink()
        self.assertTrue(stays.exists())
        self.assertEqual(len(self.history(lead)), 2)
        self.assertFalse(stays[0].stage_id)
        self.assertEqual(stays[0].end_reason, "moved")

    def test_lead_deleted_history_goes(self):
        lead = self._create_leads(1)
        stays = self.history(lead)
        lead.with_user(self.user_manager).unlink()
        self.assertFalse(stays.exists())

    def test_stage_history_action(self):
        lead = self._create_leads(1)
        lead.stage_id = self.stage_qualification
        action = lead.with_user(self.user_salesman).action_view_stage_history()
        self.assertEqual(action["res_model"], "crm.lead.stage.history")
        stays = (
            self.env["crm.lead.stage.history"]
            .with_user(self.user_salesman)
            .search(action["domain"])
        )
        self.assertEqual(len(stays), 2)

    def test_addon_adds_only_its_own_columns_to_crm_lead(self):
        """Uninstall safety: the only columns the addon adds to crm_lead are its own fields
        (won criteria, outcome, qualification, SLA, stale flag, loss review), so uninstalling it
        drops no data of crm (the uninstall itself is checked by the test command)."""
        Lead = self.env["crm.lead"]
        own = [field for field in Lead._fields.values() if field._modules == ("crm_regulation",)]
        self.assertIn("stage_history_ids", [field.name for field in own])
        self.assertEqual(
            sorted(field.name for field in own if field.store and field.column_type),
            [
                "company_key",
                "contract_date",
                "contract_signed",
                "duplicate_of_id",
                "first_contact_date",
                "first_contact_hours",
                "first_payment_date",
                "legal_form",
                "loss_review_date",
                "loss_review_state",
                "loss_reviewed_by_id",
                "lost_feedback",
                "outcome",
                "qualification_check_at",
                "qualification_date",
                "qualification_deadline",
                "qualification_state",
                "sla_deadline",
                "sla_state",
                "sla_warning_at",
                "stale_date",
            ],
        )

    def test_every_lead_has_exactly_its_current_stay(self):
        """Whole-database invariant, including leads that existed before the addon was
        installed (crm's demo data gets its rows from the install backfill)."""
        self._create_leads(5)
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT l.id, l.stage_id, array_agg(h.stage_id) FILTER (WHERE h.date_out IS NULL)
              FROM crm_lead l
              LEFT JOIN crm_lead_stage_history h ON h.lead_id = l.id
             WHERE l.active AND l.stage_id IS NOT NULL
             GROUP BY l.id, l.stage_id
            HAVING array_agg(h.stage_id) FILTER (WHERE h.date_out IS NULL)
                   IS DISTINCT FROM ARRAY[l.stage_id]
            """
        )
        self.assertEqual(self.env.cr.fetchall(), [])
        self.env.cr.execute(
            """SELECT count(*) FROM crm_lead_stage_history h JOIN crm_lead l ON l.id = h.lead_id
                WHERE h.date_out IS NULL AND NOT l.active"""
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)


@tagged("post_install", "-at_install", "crm_regulation")
class TestStageHistoryTranslation(CrmRegulationCommon):
    def test_russian_terms(self):
        """The addon's ru.po loads: labels and messages in the user's language."""
        self.env["res.lang"]._activate_lang("ru_RU")
        self.env["ir.module.module"]._load_module_terms(["crm_regulation"], ["ru_RU"])
        field = self.env["ir.model.fields"]._get("crm.lead.stage.history", "date_in")
        self.assertEqual(field.with_context(lang="ru_RU").field_description, "Вход на этап")
        lead = self._create_leads(1)
        History = self.env["crm.lead.stage.history"].with_context(lang="ru_RU")
        with self.assertRaises(ValidationError) as error:
            History.create(
                {"lead_id": lead.id, "stage_id": self.stage_new.id, "date_in": datetime.now()}
            )
        self.assertIn("только на одном этапе", str(error.exception))


@tagged("post_install", "-at_install", "crm_regulation")
class TestStageHistoryScreens(CrmRegulationCommon):
    def test_views_load(self):
        """Every view of the history, and the lead form with its smart button, as the users
        who open them."""
        for user in (self.user_salesman, self.user_manager):
            History = self.env["crm.lead.stage.history"].with_user(user)
            views = History.get_views(
                [(False, kind) for kind in ("list", "form", "search", "pivot", "graph")]
            )
            self.assertEqual(set(views["views"]), {"list", "form", "search", "pivot", "graph"})
            form = self.env["crm.lead"].with_user(user).get_views([(False, "form")])
            self.assertIn("action_view_stage_history", form["views"]["form"]["arch"])

    def test_menus(self):
        """Time in Stage is in everyone's CRM reporting; the Regulation configuration menu
        only in the sales managers'."""
        report = self.env.ref("crm_regulation.crm_lead_stage_history_menu_report")
        config = self.env.ref("crm_regulation.crm_regulation_menu_config")
        Menu = self.env["ir.ui.menu"]
        salesman_menus = Menu.with_user(self.user_salesman)._visible_menu_ids()
        manager_menus = Menu.with_user(self.user_manager)._visible_menu_ids()
        self.assertIn(report.id, salesman_menus)
        self.assertNotIn(config.id, salesman_menus)
        self.assertIn(report.id, manager_menus)
        self.assertIn(config.id, manager_menus)

    def test_stay_keeps_owner_of_its_time(self):
        """A stay records the team and salesperson of its time: a reassignment changes the
        next stays, not the past ones."""
        lead = self._create_leads(1)
        lead.user_id = self.user_salesman_2
        lead.stage_id = self.stage_qualification
        first, second = self.history(lead)
        self.assertEqual(first.user_id, self.user_salesman)
        self.assertEqual(second.user_id, self.user_salesman_2)

    def test_merge_keeps_head_history(self):
        head = self._create_leads(1, stage=self.stage_proposal, email_from="a@example.com")
        tail = self._create_leads(1, stage=self.stage_new, email_from="a@example.com")
        head_stays = self.history(head)
        merged = (head | tail).with_user(self.user_manager).merge_opportunity()
        self.assertEqual(merged, head)
        self.assertTrue(head_stays.exists())
        self.assertEqual(self.open_stays(head).stage_id, head.stage_id)


@tagged("post_install", "-at_install")
class TestOneWriterPerTable(TransactionCase):
    """SQL that writes a table of the addon's models is in that model's own files: the
    stage history in ``crm_lead_stage_history.py``, leads in ``crm_lead*.py``."""

    WRITERS = {
        "crm_lead_stage_history": ("crm_lead_stage_history.py",),
        "crm_lead": ("crm_lead", "hooks.py"),  # the pre-init hook fills new columns
    }

    def test_each_table_has_one_writer(self):
        root = pathlib.Path(__file__).resolve().parents[1]
        for table, owners in self.WRITERS.items():
            statement = re.compile(rf"(UPDATE|INSERT INTO|DELETE FROM)\s+{table}\b")
            for path in root.rglob("*.py"):
                if "tests" in path.parts or "migrations" in path.parts:
                    continue
                if statement.search(path.read_text()) and not path.name.startswith(owners):
                    self.fail(f"{path.relative_to(root)} writes {table}: ask its model")
