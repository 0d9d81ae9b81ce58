import io
import zipfile
from datetime import datetime
from unittest.mock import patch

import openpyxl

from odoo.tests import TransactionCase

from ..models import kpi_workbook
from ..models.kpi_workbook import Column, Sheet, write_workbook

INJECTIONS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "=1/0"]


class TestKpiWorkbook(TransactionCase):
    """The digests' workbook: four typed sheets, frozen headers, filters, a native chart, and
    no formula injection from what users typed."""

    def workbook(self):
        summary = Sheet(
            "Summary",
            [
                Column("KPI", "text", 30),
                Column("Value", "number"),
                Column("Plan reached", "percent"),
            ],
            [("New leads", 5, 0.25), ("Win rate", 50.0, None)],
        )
        funnel = Sheet(
            "Funnel",
            [Column("Stage", "text"), Column("Entered", "number"), Column("Conversion", "percent")],
            [("New", 5, 0.6), ("Qualification", 3, 1 / 3), (INJECTIONS[0], 1, 1.0)],
        )
        salespeople = Sheet(
            "Salespeople",
            [Column("Salesperson", "text"), Column("Leads in work", "number")],
            [(name, index) for index, name in enumerate(INJECTIONS)],
        )
        todo = Sheet(
            "To do",
            [
                Column("List", "text"),
                Column("Lead", "link", 40),
                Column("Since", "datetime"),
            ],
            [
                ("SLA breached", ("http://odoo/odoo/crm/7", "+1+1"), datetime(2026, 11, 2, 9, 30)),
                ("Forgotten", ("http://odoo/odoo/crm/8", "Plain lead"), None),
            ],
        )
        data = write_workbook(
            [summary, funnel, salespeople, todo], chart=("Funnel", "Funnel", 0, 2)
        )
        return data, openpyxl.load_workbook(io.BytesIO(data))

    def test_sheets_types_headers_and_filters(self):
        _data, book = self.workbook()
        self.assertEqual(book.sheetnames, ["Summary", "Funnel", "Salespeople", "To do"])
        summary = book["Summary"]
        self.assertEqual(summary.freeze_panes, "A2")
        self.assertEqual(summary.auto_filter.ref, "A1:C3")
        self.assertEqual(summary["B2"].value, 5)
        self.assertEqual(summary["B2"].data_type, "n")
        self.assertEqual(summary["C2"].number_format, "0.0%")
        self.assertIsNone(summary["C3"].value)
        todo = book["To do"]
        self.assertEqual(todo["C2"].value, datetime(2026, 11, 2, 9, 30))
        self.assertTrue(todo["C2"].is_date)
        self.assertEqual(todo["B2"].hyperlink.target, "http://odoo/odoo/crm/7")

    def test_what_users_typed_stays_text(self):
        _data, book = self.workbook()
        people = book["Salespeople"]
        for row, text in enumerate(INJECTIONS, 2):
            cell = people.cell(row=row, column=1)
            self.assertEqual((cell.value, cell.data_type), (text, "s"), text)
        self.assertEqual(book["Funnel"]["A4"].data_type, "s")
        self.assertEqual(book["To do"]["B2"].value, "+1+1")
        self.assertEqual(book["To do"]["B2"].data_type, "s")

    def test_funnel_has_a_native_chart(self):
        data, _book = self.workbook()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
            self.assertEqual(len(charts), 1)
            chart = archive.read(charts[0]).decode()
        self.assertIn("<c:barChart>", chart)
        self.assertIn("'Funnel'!$C$2:$C$4", chart)

    def test_links_past_the_limit_are_names(self):
        """xlsxwriter holds a sheet's links in memory: past the limit, the name as text."""
        with patch.object(kpi_workbook, "LINK_LIMIT", 1):
            _data, book = self.workbook()
        todo = book["To do"]
        self.assertEqual(todo["B2"].hyperlink.target, "http://odoo/odoo/crm/7")
        self.assertIsNone(todo["B3"].hyperlink)
        self.assertEqual((todo["B3"].value, todo["B3"].data_type), ("Plain lead", "s"))
