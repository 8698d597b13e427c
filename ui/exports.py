"""Report downloads of the Results page: the files ``python -m campaigns.report`` writes, byte for byte.

Each export runs :func:`campaigns.report.build_report` into a temporary folder
and hands back the files, so the app and the command line can never drift apart.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from campaigns.report import build_report
from campaigns.store import Store
from campaigns.types import Campaign

MIME = {"json": "application/json", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "html": "text/html"}


@dataclass(frozen=True)
class ExportFile:
    """One file of a report download."""

    label: str
    filename: str
    fmt: str
    part: int  # index among the files build_report writes for this format


def slug(name: str) -> str:
    """A file-name-safe version of a campaign name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "campaign"


def export_files(campaign: Campaign, threshold: float) -> list[ExportFile]:
    """The downloads offered: raw, summary and feedback tables in CSV and Parquet, the Excel workbook, HTML, JSON."""
    stem = f"{slug(campaign.name)}-t{threshold:g}"
    return [
        ExportFile("Snapshots CSV", f"{stem}.csv", "csv", 0),
        ExportFile("Summary CSV", f"{stem}-summary.csv", "csv", 1),
        ExportFile("Feedback CSV", f"{stem}-feedback.csv", "csv", 2),
        ExportFile("Snapshots Parquet", f"{stem}.parquet", "parquet", 0),
        ExportFile("Summary Parquet", f"{stem}-summary.parquet", "parquet", 1),
        ExportFile("Feedback Parquet", f"{stem}-feedback.parquet", "parquet", 2),
        ExportFile("Excel workbook", f"{stem}.xlsx", "xlsx", 0),
        ExportFile("HTML report", f"{stem}.html", "html", 0),
        ExportFile("JSON report", f"{stem}.json", "json", 0),
    ]


def export_bytes(store: Store, campaign: Campaign, threshold: float, segment: tuple[str, str] | None,
                 file: ExportFile, *, with_panel_ids: bool = False) -> bytes:
    """The bytes of one export, as the report command writes them for the same options
    (``with_panel_ids``: ``--with-panel-ids``, the panel ids are personal data)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"report.{file.fmt}"
        _, written = build_report(store, campaign.name, file.fmt, out, threshold=threshold,
                                  segment_filter=segment, with_panel_ids=with_panel_ids)
        return written[file.part].read_bytes()
