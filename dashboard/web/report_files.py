"""A report as files to download: CSV (UTF-8 with a byte order mark, so that Excel reads
Chinese right) and XLSX (openpyxl), both from `dashboard.core.report_table`."""

from __future__ import annotations

import io

from openpyxl import Workbook

from dashboard.core.csv_export import csv_text
from dashboard.core.feedback_table import feedback_table
from dashboard.core.report_table import Translate, heat_table, table, title
from dashboard.core.reports import Report

BOM = "\ufeff"


def report_csv(report: Report, name: str, t: Translate) -> bytes:
    """The report's table as CSV, then an empty line and the workers' reports."""
    rows = [*table(report, name, t), [], *feedback_table(report, name, t)]
    return (BOM + csv_text(rows)).encode("utf-8")


def report_xlsx(report: Report, name: str, t: Translate, made_at: str) -> bytes:
    """A workbook: the report's table under its title, the busy hours, and the workers'
    reports and suggestions."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = t("reports.sheet.report")
    sheet.append([title(report, name, t)])
    sheet.append([t("reports.generated"), made_at])
    sheet.append([])
    for row in table(report, name, t):
        sheet.append(row)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 12
    hours = book.create_sheet(t("reports.sheet.hours"))
    for row in heat_table(report, t):
        hours.append(row)
    feedback = book.create_sheet(t("reports.sheet.feedback"))
    for row in feedback_table(report, name, t):
        feedback.append(row)
    feedback.column_dimensions["A"].width = 24
    for named in (sheet, feedback):
        for cells in named.iter_rows():
            for cell in cells:
                # openpyxl writes text starting with `=` as a formula; names come from
                # operators, and a station named `=HYPERLINK(...)` must stay text.
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
