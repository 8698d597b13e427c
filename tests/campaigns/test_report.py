"""Reports: the JSON shape key for key, and every export format opened back and checked."""

from __future__ import annotations

import csv as csv_module
import io
import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from campaigns.analysis import analyze, segment
from campaigns.errors import CampaignError
from campaigns.report import build_report, load_study, main, report_json
from campaigns.report_tables import FORMULA_START, feedback_table, spreadsheet_safe
from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store
from campaigns.study import IN_PROGRESS, OUTCOMES, Question, Quota, StudySetup
from campaigns.types import DEFAULT_LABELS, SnapshotRow, Verdict
from tests.campaigns.conftest import LABELS3, make_live, png_bytes
from ui.exports import export_bytes, export_files

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


#: The feedback table's columns before the segment answers, in order.
FEEDBACK_COLUMNS = ["seq", "participant_id", "variant", "position", "rating", "rating_centred", "comment"]


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
    assert set(report) == {
        "campaign",
        "threshold",
        "variants",
        "comparisons",
        "timeline",
        "order_balance",
        "feedback",
        "participants_total",
        "funnel",
        "last_steps",
        "questions",
        "quotas",
        "study",
    }
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
        study = load_study(store, NAME)
    _, out, _ = run(db, "--threshold", "0.5", capsys=capsys)
    report = json.loads(out)
    assert report == json.loads(json.dumps(report_json(analysis, study)))
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
        analysis = analyze(store.load(NAME))
        excluded = int(analysis.quality["excluded"].sum())
        mean_ratings = {v: s.feedback_raw for v, s in analysis.summaries.items()}
        ratings = sum(s.feedback_n for s in analysis.summaries.values())
    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        out = tmp_path / f"raw.{fmt}"
        code, _, err = run(db, "--format", fmt, "--out", str(out), capsys=capsys)
        assert code == 0 and f"raw-summary.{fmt}" in err and f"raw-feedback.{fmt}" in err
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
        feedback = reader(tmp_path / f"raw-feedback.{fmt}")
        assert len(feedback) == ratings  # every rating, one row each
        assert list(feedback.columns[:7]) == FEEDBACK_COLUMNS
        assert {"answer_age", "answer_device"} <= set(feedback.columns)
        assert feedback.groupby("variant")["rating"].mean().to_dict() == pytest.approx(mean_ratings)


def test_xlsx_export_has_every_sheet(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.xlsx"
    assert run(db, "--format", "xlsx", "--out", str(out), capsys=capsys)[0] == 0
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["summary", "comparisons", "timeline", "quality", "raw", "feedback"]
    assert set(sheets["feedback"]["position"]) == {"first", "second"}
    assert sheets["feedback"].groupby("participant_id").size().max() == 2
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
        data = store.load(NAME)
        order = analyze(segment(data, "device", "laptop")).order
    answers = data.answers
    young = set(
        answers.loc[(answers["question"] == "device") & (answers["answer"] == "laptop"), "participant_id"]
    )
    code, out, _ = run(db, "--segment", "device=laptop", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert report["order_balance"]["AB"] + report["order_balance"]["BA"] == order.ab + order.ba < 14
    csv = tmp_path / "seg.csv"
    assert run(db, "--segment", "device=laptop", "--format", "csv", "--out", str(csv), capsys=capsys)[0] == 0
    assert set(pd.read_csv(csv)["participant_id"]) <= young


# -- feedback: every rating and comment, and safe spreadsheets -----------------

def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def texts(values: Any) -> list[str | None]:
    """Text cells as a list, a missing one (None or NaN, as pandas reads it) as None."""
    return [v if isinstance(v, str) else None for v in values]


PAYLOADS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)<script>", "\t=1", "  =1", "\rcmd"]


def _feedback_campaign(store: Store) -> tuple[str, list[str]]:
    """A live campaign named like a formula, whose participants rate with formula-like comments."""
    campaign = make_live(store, name="=Feedback test", rating_scale=5)
    ids = []
    for i, (order, device) in enumerate([("AB", "laptop"), ("BA", "laptop"), ("AB", "desktop")]):
        person = store.add_participant(campaign, "v1", answers={"device": device, "age": "-18"}, order=order)
        ids.append(person.id)
        store.add_snapshots(
            [SnapshotRow(person.id, v, 0, True, (0.8, 0.1, 0.1), "m") for v in "AB"]
        )
        if i == 2:
            store.add_feedback(person.id, "A", 3)  # no comment at all; B not rated (left half way)
        else:
            store.add_feedback(person.id, "A", 5, PAYLOADS[3 * i] + "\x07bell")
            store.add_feedback(person.id, "B", 2 + i, PAYLOADS[3 * i + 1] if i else "   ")
    return campaign.name, ids


def test_feedback_table_has_every_rating_with_position_and_answers(store: Store) -> None:
    name, ids = _feedback_campaign(store)
    data = store.load(name)
    table = feedback_table(data)
    assert list(table.columns) == [*FEEDBACK_COLUMNS, "answer_age", "answer_device"]
    rows = [tuple(r) for r in table[["participant_id", "variant", "position", "rating"]].itertuples(index=False)]
    assert rows == [
        (ids[0], "A", "first", 5),
        (ids[0], "B", "second", 2),
        (ids[1], "B", "first", 3),  # B-A participant: B was shown first
        (ids[1], "A", "second", 5),
        (ids[2], "A", "first", 3),
    ]
    assert table["rating_centred"].tolist() == [1.0, -0.5, 0.0, 1.0, 0.0]  # 2 (R - 1) / 4 - 1
    assert texts(table["comment"]) == [PAYLOADS[0] + "\x07bell", None, PAYLOADS[4], PAYLOADS[3] + "\x07bell", None]
    assert table["answer_device"].tolist() == ["laptop", "laptop", "laptop", "laptop", "desktop"]
    # A segment restricts the table like every other one.
    assert set(feedback_table(segment(data, "device", "desktop"))["participant_id"]) == {ids[2]}


def test_spreadsheet_safe_neutralises_formulas_only_in_text() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+1", "-1", "@x", "\tx", "\rx", " =x", "ok", "a=b", "", None],
            "number": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, None],
        }
    )
    safe = spreadsheet_safe(frame)
    assert texts(safe["text"]) == ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "' =x", "ok", "a=b", "", None]
    assert safe["number"].equals(frame["number"])  # numbers stay numbers, negative ones too
    assert frame["text"][0] == "=1+1"  # a copy: the caller's frame is unchanged
    bell = spreadsheet_safe(pd.DataFrame({"c": ["=a\x07b", "fine\x00"]}), excel=True)
    assert bell["c"].tolist() == ["'=ab", "fine"]  # an XLSX cell cannot hold control characters


def test_feedback_exports_are_complete_and_cannot_inject_formulas(store: Store, tmp_path: Path) -> None:
    name, ids = _feedback_campaign(store)
    stored = feedback_table(store.load(name))
    comments = texts(stored["comment"])

    def neutral(value: object) -> object:
        return f"'{value}" if isinstance(value, str) else value

    # CSV: every text cell of every file that could run as a formula is neutralised.
    _, files = build_report(store, name, "csv", tmp_path / "r.csv")
    assert [f.name for f in files] == ["r.csv", "r-summary.csv", "r-feedback.csv"]
    csv = pd.read_csv(files[2], keep_default_na=False, na_values=[""])
    assert csv["participant_id"].tolist() == stored["participant_id"].tolist()
    assert texts(csv["comment"]) == [neutral(c) for c in comments]
    assert set(csv["answer_age"]) == {"'-18"}
    raw = pd.read_csv(files[0])
    assert set(raw["campaign"]) == {"'=Feedback test"} and set(raw["answer_age"]) == {"'-18"}
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv_module.reader(handle):
                # A number may start with "-"; no text cell may start like a formula.
                bad = [c for c in row if FORMULA_START.match(c) and not _is_number(c)]
                assert not bad, (path.name, bad)

    # XLSX: a feedback sheet, no formula cell anywhere, control characters dropped.
    build_report(store, name, "xlsx", tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["summary", "comparisons", "timeline", "quality", "raw", "feedback"]
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    sheet = book["feedback"]
    header = [c.value for c in sheet[1]]
    column = header.index("comment")
    cells = [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert cells == [neutral(c.replace("\x07", "")) if c else None for c in comments]
    assert [row[header.index("position")] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        "first",
        "second",
        "first",
        "second",
        "first",
    ]

    # JSON and Parquet keep the comments exactly as typed (no spreadsheet runs them).
    report = json.loads(build_report(store, name, "json", None)[0] or "")
    assert [r["comment"] for r in report["feedback"]] == comments
    assert report["feedback"][0] == {
        "seq": 1,
        "participant_id": ids[0],
        "variant": "A",
        "position": "first",
        "rating": 5,
        "rating_centred": 1.0,
        "comment": PAYLOADS[0] + "\x07bell",
        "answers": {"age": "-18", "device": "laptop"},
    }
    _, files = build_report(store, name, "parquet", tmp_path / "r.parquet")
    assert texts(pd.read_parquet(files[2])["comment"]) == comments
    html = (build_report(store, name, "html", tmp_path / "r.html")[1][0]).read_text(encoding="utf-8")
    assert "<h2>Feedback: every rating and comment</h2>" in html and PAYLOADS[0] in html
    assert "@SUM(A1)&lt;script&gt;" in html  # comments are escaped in the HTML report


def test_an_unknown_segment_fails_naming_the_valid_ones(
    db: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(db, "--segment", "foo=bar", capsys=capsys)
    assert code == 2 and out == ""
    assert "no segment question 'foo'" in err and "'age'" in err and "'device'" in err
    assert "Traceback" not in err
    code, out, err = run(db, "--segment", "device=tablet", capsys=capsys)
    assert code == 2 and out == ""
    assert "nobody answered 'tablet' to 'device'" in err and "'desktop', 'laptop'" in err
    make_live(store, name="No questions")
    with pytest.raises(CampaignError, match="has no segment answers"):
        build_report(store, "No questions", "json", None, segment_filter=("device", "laptop"))


def test_an_unknown_segment_on_the_command_line_exits_2_without_traceback(db: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "campaigns.report", "--db", str(db), "--campaign", "1", "--segment", "foo=bar"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "'foo'" in done.stderr and "'age', 'apps', 'device', 'gender'" in done.stderr


# -- the study: funnel, questions, quotas; panel ids only on request ----------

FUNNEL_STUDY = StudySetup(
    questions=(
        Question("gender", "Your gender?", "single", ("F", "M")),
        Question("age", "Your age?", "number", min=10, max=99, eligible_min=18, eligible_max=65),
        Question("apps", "Which of these do you use?", "multiple", ("X", "Y"), required=False),
    ),
    quotas=(Quota("gender", "M", 1),),
    target_completes=10,
    redirects={"complete": "https://panel.example/done?pid={pid}"},
)


def _funnel_campaign(store: Store) -> str:
    """A study with one visitor per way a visit can end (no camera aside), each with a panel id."""
    campaign = store.create_campaign("Funnel test", labels=LABELS3)
    store.set_variant(campaign, "A", png_bytes(value=60), "a.png")
    store.set_variant(campaign, "B", png_bytes(value=200), "b.png")
    store.set_study(campaign, FUNNEL_STUDY)
    name = store.go_live(campaign).name
    store.record_decline(name)

    def visitor(panel_id: str, gender: str, age: int) -> tuple[str, str | None]:
        person = store.add_participant(name, "v1", external_id=panel_id)
        return person.id, store.answer_questions(person.id, {"gender": gender, "age": age, "apps": ["Y"]})

    assert visitor("=PANEL-young", "F", 16)[1] == "screened_out"
    done, ended = visitor("PANEL-done", "M", 30)
    assert ended is None
    store.add_snapshots([SnapshotRow(done, v, 0, True, (0.8, 0.1, 0.1), "m") for v in "AB"])
    store.add_feedback(done, "A", 4)
    store.add_feedback(done, "B", 2)
    store.mark_participant(done, "complete")
    assert visitor("PANEL-full", "M", 40)[1] == "quota_full"  # the one M place is taken
    gone = visitor("PANEL-gone", "F", 30)[0]
    store.add_snapshots([SnapshotRow(gone, "A", 0, True, (0.8, 0.1, 0.1), "m")])
    store.erase_participant(gone)  # withdrew: only the count stays
    left = visitor("PANEL-left", "F", 50)[0]
    store.reached_step(left, "ad 1")
    store.add_snapshots([SnapshotRow(left, "A", 0, True, (0.1, 0.8, 0.1), "m")])
    store.mark_participant(left, "abandoned")
    visitor("PANEL-running", "F", 20)  # still at the camera check
    return name


def test_json_funnel_adds_up_and_names_where_visits_stopped(store: Store) -> None:
    name = _funnel_campaign(store)
    report = json.loads(build_report(store, name, "json", None)[0] or "")
    assert report["funnel"] == {"complete": 1, "screened_out": 1, "quota_full": 1, "declined": 1, "no_camera": 0,
                                "withdrew": 1, "abandoned": 1, IN_PROGRESS: 1}
    assert list(report["funnel"]) == [*OUTCOMES, IN_PROGRESS]
    # Six rows stored (the decline too) plus the withdrawal, whose rows are gone.
    assert report["participants_total"] == sum(report["funnel"].values()) == 7
    assert store.table_counts()["participants"] == 6
    assert report["last_steps"] == {"consent": 1, "questions": 2, "ad 1": 1}
    assert report["quotas"] == [{"cell": "gender=M", "question": "gender", "option": "M", "target": 1, "filled": 1,
                                 "in_progress": 0, "full": True}]
    assert report["study"] == {"target_completes": 10, "ends_at": None, "pid_param": "pid",
                               "redirects": {"complete": "https://panel.example/done?pid={pid}"}}
    # Analysed: those past the questions who are still running or left data (not the withdrawn one).
    assert report["order_balance"]["AB"] + report["order_balance"]["BA"] == 3


def test_json_questions_are_the_definitions(store: Store) -> None:
    name = _funnel_campaign(store)
    questions = json.loads(build_report(store, name, "json", None)[0] or "")["questions"]
    assert [q["key"] for q in questions] == ["gender", "age", "apps"]
    assert questions[1] == {"key": "age", "text": "Your age?", "kind": "number", "options": [], "required": True,
                            "min": 10, "max": 99, "eligible_min": 18, "eligible_max": 65, "screen_out": []}
    assert questions[2]["options"] == ["X", "Y"] and questions[2]["required"] is False
    # The definitions read back into the same setup.
    assert StudySetup.from_mapping({"questions": questions}).questions == FUNNEL_STUDY.questions


def test_html_report_shows_the_funnel_questions_and_quotas(store: Store, tmp_path: Path) -> None:
    name = _funnel_campaign(store)
    page = build_report(store, name, "html", tmp_path / "r.html")[1][0].read_text(encoding="utf-8")
    for heading in ("Funnel", "Entry questions", "Quotas"):
        assert f"<h2>{heading}</h2>" in page
    assert "Screened out" in page and "Which of these do you use?" in page and "gender=M" in page
    assert "7 visitors counted" in page


def test_a_campaign_without_a_study_has_an_empty_study_part(store: Store) -> None:
    make_live(store, name="Plain")
    report = json.loads(build_report(store, "Plain", "json", None)[0] or "")
    assert report["questions"] == [] and report["quotas"] == [] and report["participants_total"] == 0
    assert report["last_steps"] == {} and set(report["funnel"].values()) == {0}


def _panel_ids_in(path: Path, ids: set[str]) -> tuple[set[str], bool]:
    """The panel ids found anywhere in an export file, and whether it has an external_id column."""
    if path.suffix in (".json", ".html"):
        text = path.read_text(encoding="utf-8")
        return {i for i in ids if i in text}, "external_id" in text
    if path.suffix == ".xlsx":
        tables = list(pd.read_excel(path, sheet_name=None, dtype=str).values())
    else:
        tables = [pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_parquet(path)]
    found: set[str] = set()
    for table in tables:
        for column in table.columns:
            found |= {str(v).removeprefix("'") for v in table[column].dropna().unique()} & ids
    return found, any("external_id" in t.columns for t in tables)


def _all_exports(store: Store, name: str, folder: Path, with_panel_ids: bool) -> list[Path]:
    files = []
    for fmt in ("json", "csv", "parquet", "xlsx", "html"):
        out = folder / f"{'with' if with_panel_ids else 'without'}.{fmt}"
        files += build_report(store, name, fmt, out, with_panel_ids=with_panel_ids)[1]
    return files


def test_panel_ids_are_left_out_of_every_export_by_default(db: Path, tmp_path: Path) -> None:
    with Store.open(db, read_only=True) as store:
        ids = {str(r[0]) for r in store._cursor().execute(
            "SELECT external_id FROM participants WHERE external_id IS NOT NULL").fetchall()}
        assert len(ids) > 14  # the simulated visitors came with panel ids
        for path in _all_exports(store, NAME, tmp_path, with_panel_ids=False):
            assert _panel_ids_in(path, ids) == (set(), False), path.name


def test_panel_ids_are_in_the_exports_on_request(store: Store, tmp_path: Path) -> None:
    name = _funnel_campaign(store)
    analysed = {"PANEL-done", "PANEL-left", "PANEL-running"}
    ids = analysed | {"=PANEL-young", "PANEL-full", "PANEL-gone"}
    expected = {"with.csv": {"PANEL-done", "PANEL-left"}, "with.parquet": {"PANEL-done", "PANEL-left"},
                "with.xlsx": {"PANEL-done", "PANEL-left"}, "with-summary.csv": set(), "with-summary.parquet": set()}
    for path in _all_exports(store, name, tmp_path, with_panel_ids=True):
        found, column = _panel_ids_in(path, ids)
        # Snapshot tables hold those with snapshots; feedback, JSON and HTML the one who rated.
        assert found == expected.get(path.name, {"PANEL-done"}), path.name
        assert column == bool(found), path.name
    feedback = pd.read_csv(tmp_path / "with-feedback.csv")
    assert list(feedback.columns[:3]) == ["seq", "participant_id", "external_id"]
    assert set(feedback["external_id"]) == {"PANEL-done"}
    report = json.loads((tmp_path / "with.json").read_text(encoding="utf-8"))
    assert {r["external_id"] for r in report["feedback"]} == {"PANEL-done"}
    assert "external_id" not in json.loads(build_report(store, name, "json", None)[0] or "")["feedback"][0]


def test_the_flag_on_the_command_line_and_in_the_app_downloads(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(db, "--with-panel-ids", capsys=capsys)
    assert code == 0
    assert all(r["external_id"].startswith("PX-") for r in json.loads(out)["feedback"])
    with Store.open(db, read_only=True) as store:
        campaign = store.campaign(NAME)
        files = {f.label: f for f in export_files(campaign, 0.6)}
        plain = export_bytes(store, campaign, 0.6, None, files["Feedback CSV"])
        marked = export_bytes(store, campaign, 0.6, None, files["Feedback CSV"], with_panel_ids=True)
    assert b"external_id" not in plain and b"PX-" not in plain
    assert "external_id" in pd.read_csv(io.BytesIO(marked)).columns
