"""Campaign reports: ``python -m campaigns.report --db PATH --campaign NAME_OR_ID --format FORMAT``.

FORMAT is json, csv, parquet, xlsx or html. csv and parquet write three files:
the raw snapshots (``--out``), ``<stem>-summary`` and ``<stem>-feedback`` (every
rating and comment); xlsx writes one sheet per table. Panel ids (the
``external_id`` a panel link carries) are personal data: no export holds them
unless ``--with-panel-ids`` is given.

Pure builders turn an :class:`Analysis` into a JSON object (here) or tables
(``campaigns.report_tables``); thin writers put them in files; ``main`` only
parses arguments.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from campaigns.analysis import analyze, segment, segment_questions
from campaigns.charts import all_charts
from campaigns.errors import CampaignError, UnknownCampaignError
from campaigns.report_study import StudyFacts, load_study, study_html, study_json
from campaigns.report_tables import comparison_table, feedback_table, raw_table, spreadsheet_safe, summary_table
from campaigns.store import Store
from campaigns.types import VARIANTS, Analysis, Campaign, CampaignData, Comparison

FORMATS = ("json", "csv", "parquet", "xlsx", "html")
EXCEL_MAX_ROWS = 1_048_575

METRIC_DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("snapshot", "One sampled webcam frame while a variant was on screen."),
    ("confident", "A face was found and the top probability is at least the threshold."),
    (
        "emotion ratio",
        "Confident snapshots whose top label is k / all snapshots of the variant (no-face "
        "and unconfident snapshots count in the denominator), pooled over included "
        "participant-variants.",
    ),
    ("share among confident", "Confident snapshots with top label k / confident snapshots."),
    ("face rate, confident rate", "Snapshots with a face / all snapshots; confident / all snapshots."),
    ("participant ratio r_ik", "The emotion ratio within one participant and variant."),
    (
        "valence",
        "Per participant: sum of r_ik over positive labels (happy) minus sum over negative labels "
        "(angry, disgust, fear, sad), in [-1, 1]; the variant's valence is the mean over "
        "participants.",
    ),
    (
        "feedback",
        "Rating R on 1..K centred as F = 2 (R - 1) / (K - 1) - 1, in [-1, 1]; feedback_mean is the "
        "mean F (the raw mean rating is shown beside it).",
    ),
    ("combined score", "S = w * mean valence + (1 - w) * mean F, w = the campaign's valence weight; a part whose "
     "weight is 0 is left out (w = 0: feedback only, w = 1: valence only)."),
    (
        "timeline",
        "Per second since the variant appeared: % of viewers whose snapshot(s) in that second "
        "were confident with top label k.",
    ),
    (
        "exclusion",
        "A participant's facial data for a variant is excluded when fewer than min_face_rate of "
        "its snapshots show a face, or when no snapshot arrived for a variant that was shown (rated, or "
        "the participant completed); excluded rows stay in the raw export, flagged.",
    ),
    (
        "paired comparison",
        "d_i = metric_i(A) - metric_i(B) over participants with valid data for both; "
        "diff = mean d, 95% BCa bootstrap CI over participants (seeded), Wilcoxon "
        "signed-rank p-value; emotion p-values Benjamini-Hochberg adjusted together.",
    ),
    (
        "verdict",
        "'not enough data' below min_participants pairs; 'A ahead' / 'B ahead' (higher value) "
        "when the adjusted p-value < 0.05 and the CI excludes 0; else 'no clear difference'.",
    ),
    (
        "feedback table",
        "One row per rating: participant, variant, position shown (first/second), rating R and "
        "centred F, the optional comment and the segment answers. In CSV and Excel files a text "
        "cell starting with =, +, -, @, a tab or a carriage return gets a leading apostrophe so a "
        "spreadsheet shows it as text instead of running it as a formula.",
    ),
    (
        "order balance",
        "A-B vs B-A participant counts (exact binomial test) and first-shown minus "
        "second-shown differences in valence and feedback.",
    ),
    (
        "funnel",
        "Every visitor of the campaign by how the visit ended (whatever the segment): declined at consent, "
        "screened out or quota full at the entry questions, no camera, withdrew (their data erased), "
        "abandoned, complete, or still in progress; the counts add up to participants_total.",
    ),
)


def _num(value: Any) -> float | int | None:
    """JSON-safe number: NaN becomes null."""
    if value is None:
        return None
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    number = float(value)
    return None if math.isnan(number) else number


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "n": c.n,
        "diff": _num(c.diff),
        "ci_low": _num(c.ci_low),
        "ci_high": _num(c.ci_high),
        "p_value": _num(c.p_value),
        "p_adjusted": _num(c.p_adjusted),
        "verdict": c.verdict,
    }


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    """Identity, status, labels and settings of a campaign."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "labels": list(campaign.labels),
        "settings": campaign.settings.as_dict(),
    }


def timeline_json(analysis: Analysis) -> dict[str, Any]:
    """Timeline per variant as columns: second, viewers, percent per label."""
    frame = analysis.timeline
    result = {}
    for v in VARIANTS:
        rows = frame[frame["variant"] == v]
        result[v] = {
            "second": [int(s) for s in rows["second"]],
            "viewers": [int(n) for n in rows["viewers"]],
            "percent": {k: [_num(x) for x in rows[f"pct_{k}"]] for k in analysis.data.campaign.labels},
        }
    return result


def report_json(analysis: Analysis, study: StudyFacts | None = None,
                panel_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON report: the keys and shape documented in docs/design.md; ``study`` adds the funnel,
    questions and quotas, ``panel_ids`` an ``external_id`` to every feedback row."""
    labels = analysis.data.campaign.labels
    variants = {
        v: {
            "participants": s.participants,
            "snapshots": s.snapshots,
            "face_rate": _num(s.face_rate),
            "confident_rate": _num(s.confident_rate),
            "ratios": {k: _num(s.ratios[k]) for k in labels},
            "valence": _num(s.valence),
            "feedback_mean": _num(s.feedback_centred),
            "combined_score": _num(s.combined_score),
            "excluded": s.excluded,
        }
        for v, s in analysis.summaries.items()
    }
    order = analysis.order
    return {
        "campaign": campaign_json(analysis.data.campaign),
        "threshold": analysis.data.threshold,
        "variants": variants,
        "comparisons": {m: _comparison_json(c) for m, c in analysis.comparisons.items()},
        "timeline": timeline_json(analysis),
        "order_balance": {
            "AB": order.ab,
            "BA": order.ba,
            "p_value": _num(order.p_value),
            "order_effect": {m: _comparison_json(c) for m, c in order.order_effect.items()},
        },
        "feedback": feedback_json(analysis.data, panel_ids),
    } | (study_json(study) if study is not None else {})


def feedback_json(data: CampaignData, panel_ids: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every rating as in :func:`feedback_table`, the segment answers nested under ``answers``."""
    rows = []
    for record in feedback_table(data, panel_ids).to_dict("records"):
        answers = {k.removeprefix("answer_"): v for k, v in record.items() if k.startswith("answer_")}
        row = {k: v for k, v in record.items() if not k.startswith("answer_")}
        row |= {"seq": int(row["seq"]), "rating": int(row["rating"]), "rating_centred": _num(row["rating_centred"])}
        row["comment"] = row["comment"] if isinstance(row["comment"], str) else None  # NaN is no JSON
        row["answers"] = {k: v for k, v in answers.items() if isinstance(v, str)}
        if "external_id" in row:
            row["external_id"] = row["external_id"] if isinstance(row["external_id"], str) else None
        rows.append(row)
    return rows


def write_tables(analysis: Analysis, raw: pd.DataFrame, fmt: str, out: Path,
                 panel_ids: Mapping[str, str] | None = None) -> list[Path]:
    """Write csv/parquet (raw, summary and feedback files) or xlsx (sheets); returns the files written.

    CSV and XLSX text is made :func:`spreadsheet_safe`; Parquet keeps it as stored.
    """
    tables = {
        "summary": summary_table(analysis),
        "comparisons": comparison_table(analysis.comparisons),
        "timeline": analysis.timeline,
        "quality": analysis.quality,
        "raw": raw_table(analysis, raw, panel_ids),
        "feedback": feedback_table(analysis.data, panel_ids),
    }
    if fmt == "xlsx":
        if len(tables["raw"]) > EXCEL_MAX_ROWS:
            raise CampaignError(
                f"the raw table has {len(tables['raw']):,} rows, more than an Excel sheet holds; "
                "export csv or parquet instead"
            )
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for sheet, table in tables.items():
                spreadsheet_safe(table, excel=True).to_excel(writer, sheet_name=sheet, index=False)
        return [out]
    files = {name: out.with_name(f"{out.stem}-{name}{out.suffix}") for name in ("summary", "feedback")}
    files["raw"] = out
    for name, path in files.items():
        if fmt == "csv":
            spreadsheet_safe(tables[name]).to_csv(path, index=False)
        else:  # Parquet keeps text as typed: no spreadsheet opens it directly
            tables[name].to_parquet(path, index=False)
    return [out, files["summary"], files["feedback"]]


def report_html(analysis: Analysis, study: StudyFacts | None = None,
                panel_ids: Mapping[str, str] | None = None) -> str:
    """One self-contained HTML page: charts (plotly.js inlined once), tables, the study's funnel,
    questions and quotas, definitions."""
    campaign = analysis.data.campaign
    parts = []
    for i, (key, figure) in enumerate(all_charts(analysis).items()):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"chart-{key}"))
    order = analysis.order
    definitions = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in METRIC_DEFINITIONS
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(campaign.name)}: A/B emotion report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} .feedback td{{text-align:left}}</style></head><body>
<h1>{html.escape(campaign.name)}</h1>
<p>Status {html.escape(campaign.status)}; confidence threshold {analysis.data.threshold:g};
labels {html.escape(", ".join(campaign.labels))}.</p>
<h2>Summary</h2>{summary_table(analysis).set_index("variant").T.to_html(na_rep="–")}
<h2>A vs B (paired over participants)</h2>
{comparison_table(analysis.comparisons).to_html(index=False, na_rep="–")}
<h2>Order balance</h2><p>A-B first: {order.ab}; B-A first: {order.ba}; binomial p = {order.p_value:.3g}.</p>
{comparison_table(order.order_effect).to_html(index=False, na_rep="–")}
{study_html(study)}
<h2>Charts</h2>
{"".join(parts)}
<h2>Feedback: every rating and comment</h2>
{feedback_table(analysis.data, panel_ids).to_html(index=False, na_rep="", classes="feedback")}
<h2>Definitions</h2><dl>{definitions}</dl>
</body></html>
"""


# -- command line ------------------------------------------------------------


def resolve_campaign(store: Store, key: str) -> Campaign:
    """A campaign by name, or by id when ``key`` is all digits and no name matches."""
    try:
        return store.campaign(key)
    except UnknownCampaignError:
        if key.isdigit():
            return store.campaign(int(key))
        names = ", ".join(store.iter_campaign_names()) or "none"
        raise UnknownCampaignError(f"no campaign named or numbered {key!r}; campaigns: {names}") from None


def check_segment(data: CampaignData, question: str, answer: str) -> None:
    """CampaignError naming the valid choices unless some participant gave ``answer`` to ``question``.

    An unknown question or answer would otherwise give an empty report that
    looks like a real one.
    """
    questions = segment_questions(data)
    name = data.campaign.name
    if not questions:
        raise CampaignError(f"campaign {name!r} has no segment answers, so no segment can be selected")
    if question not in questions:
        known = ", ".join(repr(q) for q in questions)
        raise CampaignError(f"campaign {name!r} has no segment question {question!r}; questions: {known}")
    if answer not in questions[question]:
        known = ", ".join(repr(a) for a in questions[question])
        raise CampaignError(f"nobody answered {answer!r} to {question!r} in campaign {name!r}; answers: {known}")


def build_report(
    store: Store,
    key: str,
    fmt: str,
    out: Path | None,
    *,
    threshold: float | None = None,
    segment_filter: tuple[str, str] | None = None,
    seed: int = 0,
    with_panel_ids: bool = False,
) -> tuple[str | None, list[Path]]:
    """Analyse a campaign and write the report; returns (text for stdout, files written).

    ``with_panel_ids`` adds each participant's panel id (``external_id``, personal data) to the raw
    and feedback tables and the JSON and HTML feedback; without it no export holds one.
    """
    if fmt not in FORMATS:
        raise CampaignError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out is None and fmt != "json":
        raise CampaignError(f"--out FILE is required for the {fmt} format")
    campaign = resolve_campaign(store, key)
    data = store.load(campaign, threshold)
    if segment_filter is not None:
        check_segment(data, *segment_filter)
        data = segment(data, *segment_filter)
    analysis = analyze(data, seed=seed)
    ids = store.panel_ids(campaign) if with_panel_ids else None
    if fmt == "json":
        text = json.dumps(report_json(analysis, load_study(store, campaign), ids), indent=2)
        if out is None:
            return text, []
        out.write_text(text + "\n", encoding="utf-8")
        return None, [out]
    assert out is not None
    if fmt == "html":
        out.write_text(report_html(analysis, load_study(store, campaign), ids), encoding="utf-8")
        return None, [out]
    raw = store.raw_snapshots(campaign)
    if segment_filter is not None:
        raw = raw[raw["participant_id"].isin(set(data.participants["participant_id"]))]
    return None, write_tables(analysis, raw, fmt, out, ids)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m campaigns.report", description="Export a campaign report."
    )
    parser.add_argument("--db", required=True, help="DuckDB campaign database")
    parser.add_argument("--campaign", required=True, help="campaign name or id")
    parser.add_argument(
        "--threshold", type=float, default=None, help="confidence threshold (default: campaign's)"
    )
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument("--out", type=Path, default=None, help="output file (json defaults to stdout)")
    parser.add_argument("--segment", default=None, metavar="QUESTION=ANSWER", help="only these participants")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--with-panel-ids", action="store_true",
                        help="include each participant's panel id (personal data; left out by default)")
    args = parser.parse_args(argv)
    segment_filter = None
    if args.segment is not None:
        question, sep, answer = args.segment.partition("=")
        if not sep:
            parser.error("--segment must look like QUESTION=ANSWER")
        segment_filter = (question, answer)
    try:
        with Store.open(args.db, read_only=True) as store:
            text, files = build_report(
                store,
                args.campaign,
                args.format,
                args.out,
                threshold=args.threshold,
                segment_filter=segment_filter,
                seed=args.seed,
                with_panel_ids=args.with_panel_ids,
            )
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if text is not None:
        print(text)
    for path in files:
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
