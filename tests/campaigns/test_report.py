"""Reports: the JSON shape key for key, and every export format opened back and checked."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from campaigns.analysis import analyze
from campaigns.report import main, report_json
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store
from campaigns.types import DEFAULT_LABELS, Verdict

ROOT = Path(__file__).resolve().parents[2]
VARIANT_KEYS = {
    "participants",
    "snapshots",
    "face_rate",
    "confident_rate",
    "ratios",
    "valence",
    "feedback_mean",
    "combined_score",
    "excluded",
}
COMPARISON_KEYS = {"n", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict"}
NAME = "Report test"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "campaigns.duckdb"
    with Store.open(path) as store:
        simulate(store, SimulationConfig(participants=14, seed=5, name=NAME))
    return path


def run(db: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--db", str(db), "--campaign", NAME, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_report_shape_key_for_key(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(db, "--format", "json", "--threshold", "0.6", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"campaign", "threshold", "variants", "comparisons", "timeline", "order_balance"}
    assert report["threshold"] == 0.6 and report["campaign"]["name"] == NAME
    assert set(report["variants"]) == {"A", "B"}
    for variant in report["variants"].values():
        assert set(variant) == VARIANT_KEYS
        assert list(variant["ratios"]) == list(DEFAULT_LABELS)
    assert list(report["comparisons"]) == [*DEFAULT_LABELS, "valence", "feedback", "combined_score"]
    for comparison in report["comparisons"].values():
        assert set(comparison) == COMPARISON_KEYS
        assert comparison["verdict"] in {v.value for v in Verdict}
    assert set(report["timeline"]) == {"A", "B"}
    assert set(report["timeline"]["A"]) == {"second", "viewers", "percent"}
    assert set(report["order_balance"]) == {"AB", "BA", "p_value", "order_effect"}
    assert report["order_balance"]["AB"] + report["order_balance"]["BA"] == 14


def test_json_numbers_are_the_analysis_numbers(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(db, read_only=True) as store:
        analysis = analyze(store.load(NAME, 0.5))
    _, out, _ = run(db, "--threshold", "0.5", capsys=capsys)
    report = json.loads(out)
    assert report == json.loads(json.dumps(report_json(analysis)))
    a = report["variants"]["A"]
    s = analysis.summaries["A"]
    assert a["ratios"]["happy"] == s.ratios["happy"] and a["feedback_mean"] == s.feedback_centred
    assert a["combined_score"] == pytest.approx(0.5 * a["valence"] + 0.5 * a["feedback_mean"])
    c = report["comparisons"]["happy"]
    assert c["diff"] == analysis.comparisons["happy"].diff and c["n"] == analysis.comparisons["happy"].n


def test_csv_and_parquet_exports_read_back(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(db, read_only=True) as store:
        total = store.snapshot_count(NAME)
        excluded = int(analyze(store.load(NAME)).quality["excluded"].sum())
    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        out = tmp_path / f"raw.{fmt}"
        code, _, err = run(db, "--format", fmt, "--out", str(out), capsys=capsys)
        assert code == 0 and f"raw-summary.{fmt}" in err
        raw = reader(out)
        assert len(raw) == total
        assert {
            "participant_id",
            "variant",
            "offset_ms",
            "face_found",
            "top_label",
            "confident",
            "excluded",
            "p_happy",
            "p_neutral",
            "variant_kind",
            "answer_age",
        } <= set(raw.columns)
        assert not any("media" in c for c in raw.columns)
        assert raw.loc[raw["face_found"], [f"p_{k}" for k in DEFAULT_LABELS]].sum(axis=1).round(3).eq(1).all()
        flagged = raw.drop_duplicates(["participant_id", "variant"])["excluded"].sum()
        assert flagged == excluded  # excluded rows stay in the export, flagged
        summary = reader(tmp_path / f"raw-summary.{fmt}")
        assert summary["variant"].tolist() == ["A", "B"] and "ratio_happy" in summary.columns
        assert summary["snapshots"].sum() <= total


def test_xlsx_export_has_every_sheet(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.xlsx"
    assert run(db, "--format", "xlsx", "--out", str(out), capsys=capsys)[0] == 0
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["summary", "comparisons", "timeline", "quality", "raw"]
    assert sheets["comparisons"]["metric"].tolist() == [
        *DEFAULT_LABELS,
        "valence",
        "feedback",
        "combined_score",
    ]
    assert set(sheets["comparisons"]["verdict"]) <= {v.value for v in Verdict}
    with Store.open(db, read_only=True) as store:
        assert len(sheets["raw"]) == store.snapshot_count(NAME)
    assert {"variant", "second", "viewers", "pct_happy"} <= set(sheets["timeline"].columns)


class _PlotlyPage(HTMLParser):
    """Collects chart divs, scripts and definition terms of the HTML report."""

    def __init__(self) -> None:
        super().__init__()
        self.chart_ids: list[str] = []
        self.scripts: list[str] = []
        self.external_scripts: list[str] = []
        self.terms: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and "plotly-graph-div" in (a.get("class") or ""):
            self.chart_ids.append(a.get("id") or "")
        if tag == "script":
            if a.get("src"):
                self.external_scripts.append(a["src"] or "")
            self._in = "script"
            self.scripts.append("")
        if tag == "dt":
            self._in = "dt"

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "dt":
            self.terms.append(data)


def plotly_figures(scripts: list[str]) -> dict[str, dict[str, Any]]:
    """Decode the data and layout JSON passed to every Plotly.newPlot call."""
    decoder = json.JSONDecoder()
    figures = {}
    for script in scripts:
        start = script.find("Plotly.newPlot(")
        if start < 0:
            continue
        rest = script[start + len("Plotly.newPlot(") :].lstrip()
        div_id, end = decoder.raw_decode(rest)
        rest = rest[end:].lstrip().lstrip(",").lstrip()
        data, end = decoder.raw_decode(rest)
        rest = rest[end:].lstrip().lstrip(",").lstrip()
        layout, _ = decoder.raw_decode(rest)
        figures[div_id] = {"data": data, "layout": layout}
    return figures


def test_html_report_is_self_contained_with_its_charts(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    assert run(db, "--format", "html", "--out", str(out), capsys=capsys)[0] == 0
    page = _PlotlyPage()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.chart_ids == ["chart-ratios", "chart-timeline", "chart-feedback", "chart-quality"]
    assert page.external_scripts == []  # plotly.js is inlined
    assert any("plotly.js v" in s or "Plotly" in s[:5000] for s in page.scripts if len(s) > 1_000_000)
    figures = plotly_figures(page.scripts)
    assert set(figures) == set(page.chart_ids)
    ratios = figures["chart-ratios"]["data"]
    assert [t["name"] for t in ratios] == ["Variant A", "Variant B"] and list(ratios[0]["x"]) == list(
        DEFAULT_LABELS
    )
    assert len(figures["chart-timeline"]["data"]) == 2 * len(DEFAULT_LABELS)
    assert [t["type"] for t in figures["chart-feedback"]["data"]] == ["bar", "bar"]
    assert [t["type"] for t in figures["chart-quality"]["data"]] == ["box", "box"]
    for term in (
        "emotion ratio",
        "valence",
        "feedback",
        "combined score",
        "timeline",
        "exclusion",
        "verdict",
    ):
        assert term in page.terms


def test_cli_errors_are_clear(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(db), "--campaign", "Missing"]) == 2
    assert "no campaign named or numbered 'Missing'" in capsys.readouterr().err
    assert run(db, "--format", "xlsx", capsys=capsys)[0] == 2
    assert main(["--db", str(tmp_path / "none.duckdb"), "--campaign", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run(db, "--threshold", "1.5", capsys=capsys)[0] == 2


def test_campaign_by_id_and_module_entry_point(db: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "campaigns.report", "--db", str(db), "--campaign", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["campaign"]["name"] == NAME
    assert not math.isnan(report["variants"]["A"]["ratios"]["happy"])


def test_segment_option_restricts_participants(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(db, read_only=True) as store:
        answers = store.load(NAME).answers
    young = set(
        answers.loc[(answers["question"] == "device") & (answers["answer"] == "laptop"), "participant_id"]
    )
    code, out, _ = run(db, "--segment", "device=laptop", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert report["order_balance"]["AB"] + report["order_balance"]["BA"] == len(young) < 14
    csv = tmp_path / "seg.csv"
    assert run(db, "--segment", "device=laptop", "--format", "csv", "--out", str(csv), capsys=capsys)[0] == 0
    assert set(pd.read_csv(csv)["participant_id"]) <= young
