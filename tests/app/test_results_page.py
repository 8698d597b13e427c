"""Results page on the demo campaign: numbers from the analysis, threshold, segments, downloads, erasure."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from app_state import DEMO_NAME
from campaigns.analysis import analyze, segment
from campaigns.report import build_report
from tests.app.staff import app_store, assert_needs_login, open_page, texts
from ui import exports
from ui.results_charts import feedback_caption, feedback_rows, timeline_peaks

DOWNLOADS = ["Snapshots CSV", "Summary CSV", "Feedback CSV", "Snapshots Parquet", "Summary Parquet",
             "Feedback Parquet", "Excel workbook", "HTML report", "JSON report"]


def _scores(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_results_page_needs_a_login(new_app: Callable[..., AppTest]) -> None:
    assert_needs_login(new_app(), "results")


def test_the_demo_campaign_renders_its_analysis(new_app: Callable[..., AppTest]) -> None:
    started = time.perf_counter()
    app = open_page(new_app(), "results")
    first = time.perf_counter() - started
    expected = analyze(app_store().load(DEMO_NAME))
    scores = _scores(app)
    for v in "AB":
        assert scores[f"Variant {v}: combined score"] == f"{expected.summaries[v].combined_score:+.2f}"
    assert app.slider[0].value == app_store().campaign(DEMO_NAME).settings.confidence_threshold
    markdown = texts(app, "markdown")
    assert markdown[0].startswith("**A ahead** on the combined score")  # the demo's A is the happier ad
    assert any("A ahead** on the share of “happy” snapshots" in m for m in markdown)
    order = expected.order
    assert any(m.startswith(f"A first: **{order.ab}** participants · B first: **{order.ba}**") for m in markdown)
    assert any(f"{expected.summaries['A'].excluded} participant(s) for variant A" in m for m in markdown)
    assert sorted(d.label for d in app.download_button) == sorted(DOWNLOADS)
    assert len(app.get("plotly_chart")) == 5  # ratios, feedback, timeline (one emotion, all), quality
    # A rerun with nothing changed reuses the cached analysis: it must feel instant.
    started = time.perf_counter()
    app.run()
    assert time.perf_counter() - started < max(1.5, first), "cached rerun was not faster"
    assert _scores(app) == scores


def test_moving_the_threshold_recomputes_everything(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "results")
    before = _scores(app), texts(app, "caption")
    app.slider[0].set_value(0.95).run()
    assert not app.exception
    after = _scores(app), texts(app, "caption")
    assert after != before
    expected = analyze(app_store().load(DEMO_NAME, 0.95))
    for v in "AB":
        assert after[0][f"Variant {v}: combined score"] == f"{expected.summaries[v].combined_score:+.2f}"
    assert app.slider[0].value == 0.95
    app.switch_page("pages/campaigns.py").run()
    app.switch_page("pages/results.py").run()
    assert app.slider[0].value == 0.95  # remembered per campaign for the session


def test_a_segment_filter_restricts_the_participants(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "results")
    segment_box = next(s for s in app.selectbox if s.label == "Segment")
    question = segment_box.options[1]
    segment_box.set_value(question).run()
    answer_box = next(s for s in app.selectbox if s.label.startswith("Answer to"))
    answer = answer_box.value
    assert answer is not None
    data = segment(app_store().load(DEMO_NAME), question, answer)
    expected = analyze(data)
    caption = texts(app, "caption")[0]
    assert f"· {expected.summaries['A'].participants} participants ·" in caption
    assert expected.summaries["A"].participants < analyze(app_store().load(DEMO_NAME)).summaries["A"].participants
    assert f"segment {question} = {answer}" in " ".join(texts(app, "caption"))  # downloads follow the segment


def test_downloads_are_the_report_command_files(data_dir: Path, new_app: Callable[..., AppTest]) -> None:
    open_page(new_app(), "results")  # creates the demo campaign in data_dir
    store = app_store()
    campaign = store.campaign(DEMO_NAME)
    files = {f.label: f for f in exports.export_files(campaign, 0.6)}
    assert list(files) == DOWNLOADS
    for fmt in ("html", "json"):
        out = data_dir / f"cli.{fmt}"
        build_report(store, DEMO_NAME, fmt, out, threshold=0.6)
        label = "HTML report" if fmt == "html" else "JSON report"
        assert exports.export_bytes(store, campaign, 0.6, None, files[label]) == out.read_bytes()
    report = json.loads(exports.export_bytes(store, campaign, 0.6, None, files["JSON report"]))
    assert report["campaign"]["name"] == DEMO_NAME and report["threshold"] == 0.6
    raw = pd.read_csv(io.BytesIO(exports.export_bytes(store, campaign, 0.6, None, files["Snapshots CSV"])))
    assert len(raw) == store.snapshot_count(campaign) and "confident" in raw
    summary = pd.read_parquet(io.BytesIO(exports.export_bytes(store, campaign, 0.6, None, files["Summary Parquet"])))
    assert list(summary["variant"]) == ["A", "B"]
    book = pd.read_excel(io.BytesIO(exports.export_bytes(store, campaign, 0.6, None, files["Excel workbook"])),
                         sheet_name=None)
    assert list(book) == ["summary", "comparisons", "timeline", "quality", "raw", "feedback"]
    feedback = pd.read_csv(io.BytesIO(exports.export_bytes(store, campaign, 0.6, None, files["Feedback CSV"])))
    assert len(feedback) == len(store.load(DEMO_NAME).feedback) and "comment" in feedback
    assert len(book["feedback"]) == len(feedback) and len(report["feedback"]) == len(feedback)
    segmented_feedback = pd.read_parquet(io.BytesIO(
        exports.export_bytes(store, campaign, 0.6, ("device", "laptop"), files["Feedback Parquet"])))
    assert set(segmented_feedback["answer_device"]) == {"laptop"}
    segmented = exports.export_bytes(store, campaign, 0.6, ("device", "laptop"), files["Snapshots CSV"])
    assert 0 < len(pd.read_csv(io.BytesIO(segmented))) < len(raw)


def _feedback_frame(app: AppTest) -> pd.DataFrame:
    return next(d.value for d in app.dataframe if "comment" in d.value.columns)


def test_ratings_and_comments_are_listed_with_filters(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "results")
    store = app_store()
    data = store.load(DEMO_NAME)
    orders = data.participants.set_index("participant_id")["variant_order"]
    answers = data.answers[data.answers["question"] == "device"].set_index("participant_id")["answer"]
    rated_both = data.feedback.groupby("participant_id").size().eq(2)
    answers = answers[rated_both.reindex(answers.index, fill_value=False)]
    laptop = answers[answers == "laptop"].index[0]
    desktop = answers[answers == "desktop"].index[0]
    store.add_feedback(laptop, "B", 2, "=HYPERLINK(\"http://evil\") too loud")  # replaces their rating
    store.add_feedback(desktop, "A", 5, "Lovely colours")
    app.run()
    assert not app.exception
    shown = _feedback_frame(app)
    assert len(shown) == len(data.feedback)
    assert list(shown.columns[:7]) == ["seq", "participant_id", "variant", "position", "rating", "rating_centred",
                                       "comment"]
    row = shown[(shown["participant_id"] == laptop) & (shown["variant"] == "B")].iloc[0]
    assert row["rating"] == 2 and row["comment"] == "=HYPERLINK(\"http://evil\") too loud"  # shown as typed
    assert row["position"] == ("first" if orders[laptop] == "BA" else "second")
    assert row["answer_device"] == "laptop"
    assert (shown.loc[shown["participant_id"] != laptop, "comment"].isin(["—", "Lovely colours"])).all()
    caption = next(c for c in texts(app, "caption") if c.startswith("Variant A:"))
    ratings_a = data.feedback[data.feedback["variant"] == "A"]
    assert f"Variant A: {len(ratings_a)} ratings" in caption and "— = no comment" in caption

    next(r for r in app.radio if r.label == "Variant").set_value("B").run()
    assert set(_feedback_frame(app)["variant"]) == {"B"}
    next(c for c in app.checkbox if c.label == "Only ratings with a comment").check().run()
    only = _feedback_frame(app)
    assert only["participant_id"].tolist() == [laptop]
    assert any(c.startswith("Variant B: 1 rating, mean 2.00, 1 with a comment") for c in texts(app, "caption"))

    # The segment filter restricts the table like every other one.
    next(r for r in app.radio if r.label == "Variant").set_value("Both").run()
    next(s for s in app.selectbox if s.label == "Segment").set_value("device").run()
    next(s for s in app.selectbox if s.label.startswith("Answer to")).set_value("desktop").run()
    assert not app.exception
    assert _feedback_frame(app)["participant_id"].tolist() == [desktop]
    assert set(_feedback_frame(app)["answer_device"]) == {"desktop"}


def test_erasing_a_participant_needs_confirmation_and_updates_the_page(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "results")
    store = app_store()
    before = store.load(DEMO_NAME)
    victim = next(s for s in app.selectbox if s.label == "Participant").value
    erase = next(b for b in app.button if b.label == "Erase participant")
    assert erase.disabled  # until the checkbox is ticked
    next(c for c in app.checkbox if c.label.startswith("I understand")).check().run()
    next(b for b in app.button if b.label == "Erase participant").click().run()
    assert not app.exception
    assert texts(app, "success")[0].startswith(f"Erased participant {victim}:")
    after = store.load(DEMO_NAME)
    assert len(after.participants) == len(before.participants) - 1
    assert victim not in set(after.counts["participant_id"])
    expected = analyze(after)
    assert _scores(app)["Variant A: combined score"] == f"{expected.summaries['A'].combined_score:+.2f}"


def test_a_database_that_fails_mid_session_gets_a_plain_error(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "results")
    app_store().close()  # the database fails between two runs of the page
    app.run()
    assert not app.exception, app.exception
    assert texts(app, "error") == ["The campaign store is closed\n\nPlease try again in a few minutes. If it "
                                   "persists, the server log has the details."]
    assert not app.metric


def test_timeline_peaks_are_the_highest_points() -> None:
    frame = pd.DataFrame({"variant": ["A", "A", "A", "B", "B"], "second": [0, 1, 2, 0, 1],
                          "viewers": [5, 5, 5, 4, 4], "pct_happy": [10.0, 60.0, 20.0, 30.0, 25.0]})
    assert timeline_peaks(frame, "happy") == {"A": (1, 60.0), "B": (0, 30.0)}


def test_feedback_rows_filter_by_variant_and_comment() -> None:
    table = pd.DataFrame({"seq": [1, 1, 2], "participant_id": ["p", "p", "q"], "variant": ["A", "B", "A"],
                          "rating": [5, 2, 4], "comment": ["great", None, "  ok"]})
    assert feedback_rows(table)["seq"].tolist() == [1, 1, 2]
    assert feedback_rows(table, "A")["rating"].tolist() == [5, 4]
    assert feedback_rows(table, "B", comments_only=True).empty
    assert feedback_caption(feedback_rows(table, comments_only=True)) == (
        "Variant A: 2 ratings, mean 4.50, 2 with a comment")
    assert feedback_caption(table.iloc[:0]) == "No ratings to show."
