"""The KPI workbook (XLSX) of the digests, written with xlsxwriter in constant memory.

Four sheets: *Summary* (the KPI lines), *Funnel* (stage conversion, with a native Excel bar
chart), *Salespeople* (one row each), *To do* (the leads to act on, with links). Numbers,
percentages and dates are typed cells; every sheet has a frozen header row and a filter.
Every value that comes from a lead or a user (names, stages, teams) is written as a string
cell: a lead named ``=HYPERLINK("http://x","y")`` or ``+1+1`` stays text (no formula
injection), whatever xlsxwriter would otherwise make of it. Rows are written in order, one
sheet after the other (``constant_memory``: a row is flushed to disk when the next begins),
so 100,000 leads to act on cost little more memory than ten (the first ``LINK_LIMIT`` links
of a sheet are held until it closes).
"""

import io
from datetime import date, datetime
from typing import NamedTuple

import xlsxwriter

# Links a sheet carries: xlsxwriter keeps every link of a sheet in memory until the sheet is
# closed (about 0.8 KiB each; Excel itself takes at most 65,530 a sheet): past them a lead's
# name is written as text, so that the memory of a large list stays flat
LINK_LIMIT = 10_000


class Column(NamedTuple):
    title: str
    kind: str  # text, number, percent (a share: 0.25 is 25 %), hours, date, datetime, link
    width: int = 14


class Sheet(NamedTuple):
    name: str
    columns: list  # [Column]
    rows: object  # an iterable of tuples, one value per column (a link: (url, text))


FORMATS = {
    "number": {"num_format": "#,##0.##"},
    "percent": {"num_format": "0.0%"},
    "hours": {"num_format": "0.0"},
    "date": {"num_format": "yyyy-mm-dd"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm"},
    "link": {"font_color": "blue", "underline": 1},
}


def write_workbook(sheets, chart=None):
    """The XLSX file (bytes) of ``sheets`` (Sheet), in order. ``chart``: (sheet name, title,
    category column, value column) of a bar chart drawn from that sheet's rows, beside them."""
    stream = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        stream,
        {
            "constant_memory": True,
            "in_memory": False,
            # never read a cell's text as a formula, a number or a link
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    header = workbook.add_format({"bold": True, "bg_color": "#E8E8E8", "bottom": 1})
    formats = {kind: workbook.add_format(spec) for kind, spec in FORMATS.items()}
    for sheet in sheets:
        worksheet = workbook.add_worksheet(sheet.name)
        for col, column in enumerate(sheet.columns):
            worksheet.set_column(col, col, column.width)
            worksheet.write_string(0, col, column.title, header)
        worksheet.freeze_panes(1, 0)
        # printed landscape, one page wide, the header on every page
        worksheet.set_landscape()
        worksheet.fit_to_pages(1, 0)
        worksheet.repeat_rows(0)
        count = 0
        for count, values in enumerate(sheet.rows, 1):
            for col, (column, value) in enumerate(zip(sheet.columns, values, strict=True)):
                kind = column.kind
                if kind == "link" and count > LINK_LIMIT:
                    kind, value = "text", value and value[1]
                _write_cell(worksheet, count, col, kind, value, formats)
        worksheet.autofilter(0, 0, max(count, 1), len(sheet.columns) - 1)
        if chart and chart[0] == sheet.name and count:
            _add_chart(workbook, worksheet, sheet, chart, count)
    workbook.close()
    return stream.getvalue()


def _write_cell(worksheet, row, col, kind, value, formats):
    if value is None or value is False:
        worksheet.write_blank(row, col, None)
    elif kind == "link":
        url, text = value
        worksheet.write_url(row, col, url, formats["link"], string=str(text))
    elif kind in ("date", "datetime") and isinstance(value, (date, datetime)):
        worksheet.write_datetime(row, col, value, formats[kind])
    elif kind in ("number", "percent", "hours") and isinstance(value, (int, float)):
        worksheet.write_number(row, col, value, formats[kind])
    else:  # text, and anything unexpected: a string cell, never a formula
        worksheet.write_string(row, col, str(value))


def _add_chart(workbook, worksheet, sheet, chart, count):
    _name, title, category, value = chart
    quoted = "'" + sheet.name.replace("'", "''") + "'"
    bars = workbook.add_chart({"type": "bar"})
    bars.add_series(
        {
            "name": sheet.columns[value].title,
            "categories": f"={quoted}!${_letter(category)}$2:${_letter(category)}${count + 1}",
            "values": f"={quoted}!${_letter(value)}$2:${_letter(value)}${count + 1}",
        }
    )
    bars.set_title({"name": title})
    bars.set_y_axis({"reverse": True})  # the first stage on top, as in the funnel
    bars.set_legend({"none": True})
    worksheet.insert_chart(1, len(sheet.columns) + 1, bars)


def _letter(col):
    return xlsxwriter.utility.xl_col_to_name(col)
