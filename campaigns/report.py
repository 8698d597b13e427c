"""Campaign reports: ``python -m campaigns.report --db PATH --campaign NAME_OR_ID --format FORMAT``.

FORMAT is json, csv, parquet, xlsx or html.

Pure builders turn an :class:`Analysis` into a JSON object or tables; thin
writers put them in files; ``main`` only parses arguments.
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

from campaigns.analysis import analyze, segment
from campaigns.charts import all_charts
from campaigns.errors import CampaignError, UnknownCampaignError
from campaigns.store import Store
from campaigns.types import VARIANTS, Analysis, Campaign, Comparison

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
    ("combined score", "S = w * mean valence + (1 - w) * mean F, w = the campaign's valence weight."),
    (
        "timeline",
        "Per second since the variant appeared: % of viewers whose snapshot(s) in that second "
        "were confident with top label k.",
    ),
    (
        "exclusion",
        "A participant's facial data for a variant is excluded when fewer than min_face_rate of "
        "its snapshots show a face; excluded rows stay in the raw export, flagged.",
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
        "order balance",
        "A-B vs B-A participant counts (exact binomial test) and first-shown minus "
        "second-shown differences in valence and feedback.",
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


def report_json(analysis: Analysis) -> dict[str, Any]:
    """The JSON report, key for key as issue 3 specifies."""
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
    }


# -- tables ------------------------------------------------------------------


def summary_table(analysis: Analysis) -> pd.DataFrame:
    """One row per variant with every summary metric."""
    labels = analysis.data.campaign.labels
    rows = []
    for s in analysis.summaries.values():
        row: dict[str, Any] = {
            "variant": s.variant,
            "threshold": analysis.data.threshold,
            "participants": s.participants,
            "snapshots": s.snapshots,
            "face_rate": s.face_rate,
            "confident_rate": s.confident_rate,
        }
        row |= {f"ratio_{k}": s.ratios[k] for k in labels}
        row |= {f"share_{k}": s.shares[k] for k in labels}
        row |= {
            "valence": s.valence,
            "feedback_n": s.feedback_n,
            "feedback_raw": s.feedback_raw,
            "feedback_centred": s.feedback_centred,
            "combined_score": s.combined_score,
            "excluded": s.excluded,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(comparisons: Mapping[str, Comparison]) -> pd.DataFrame:
    """One row per compared metric."""
    return pd.DataFrame(
        [
            {
                "metric": m,
                "n": c.n,
                "diff": c.diff,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "verdict": c.verdict,
                "reason": c.reason or "",
            }
            for m, c in comparisons.items()
        ]
    )


def raw_table(analysis: Analysis, raw: pd.DataFrame) -> pd.DataFrame:
    """Raw snapshots with the confident flag, second, exclusion flag and segment answers."""
    threshold = float(np.float32(analysis.data.threshold))
    table = raw.copy()
    table["second"] = table["offset_ms"] // 1000
    table["confident"] = table["face_found"] & (table["top_probability"].fillna(-1.0) >= threshold)
    flags = analysis.quality[["participant_id", "variant", "excluded"]]
    table = table.merge(flags, on=["participant_id", "variant"], how="left")
    answers = analysis.data.answers
    if len(answers):
        wide = answers.pivot(index="participant_id", columns="question", values="answer")
        wide.columns = [f"answer_{q}" for q in wide.columns]
        table = table.merge(wide, left_on="participant_id", right_index=True, how="left")
    return table


def write_tables(analysis: Analysis, raw: pd.DataFrame, fmt: str, out: Path) -> list[Path]:
    """Write csv/parquet (raw + summary file) or xlsx (sheets); returns the files written."""
    raw_out = raw_table(analysis, raw)
    if fmt == "xlsx":
        if len(raw_out) > EXCEL_MAX_ROWS:
            raise CampaignError(
                f"the raw table has {len(raw_out):,} rows, more than an Excel sheet holds; "
                "export csv or parquet instead"
            )
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            summary_table(analysis).to_excel(writer, sheet_name="summary", index=False)
            comparison_table(analysis.comparisons).to_excel(writer, sheet_name="comparisons", index=False)
            analysis.timeline.to_excel(writer, sheet_name="timeline", index=False)
            analysis.quality.to_excel(writer, sheet_name="quality", index=False)
            raw_out.to_excel(writer, sheet_name="raw", index=False)
        return [out]
    summary_out = out.with_name(f"{out.stem}-summary{out.suffix}")
    if fmt == "csv":
        raw_out.to_csv(out, index=False)
        summary_table(analysis).to_csv(summary_out, index=False)
    else:
        raw_out.to_parquet(out, index=False)
        summary_table(analysis).to_parquet(summary_out, index=False)
    return [out, summary_out]


def report_html(analysis: Analysis) -> str:
    """One self-contained HTML page: charts (plotly.js inlined once), tables, definitions."""
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
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>
<h1>{html.escape(campaign.name)}</h1>
<p>Status {html.escape(campaign.status)}; confidence threshold {analysis.data.threshold:g};
labels {html.escape(", ".join(campaign.labels))}.</p>
<h2>Summary</h2>{summary_table(analysis).set_index("variant").T.to_html(na_rep="–")}
<h2>A vs B (paired over participants)</h2>
{comparison_table(analysis.comparisons).to_html(index=False, na_rep="–")}
<h2>Order balance</h2><p>A-B first: {order.ab}; B-A first: {order.ba}; binomial p = {order.p_value:.3g}.</p>
{comparison_table(order.order_effect).to_html(index=False, na_rep="–")}
<h2>Charts</h2>
{"".join(parts)}
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


def build_report(
    store: Store,
    key: str,
    fmt: str,
    out: Path | None,
    *,
    threshold: float | None = None,
    segment_filter: tuple[str, str] | None = None,
    seed: int = 0,
) -> tuple[str | None, list[Path]]:
    """Analyse a campaign and write the report; returns (text for stdout, files written)."""
    if fmt not in FORMATS:
        raise CampaignError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out is None and fmt != "json":
        raise CampaignError(f"--out FILE is required for the {fmt} format")
    campaign = resolve_campaign(store, key)
    data = store.load(campaign, threshold)
    if segment_filter is not None:
        data = segment(data, *segment_filter)
    analysis = analyze(data, seed=seed)
    if fmt == "json":
        text = json.dumps(report_json(analysis), indent=2)
        if out is None:
            return text, []
        out.write_text(text + "\n", encoding="utf-8")
        return None, [out]
    assert out is not None
    if fmt == "html":
        out.write_text(report_html(analysis), encoding="utf-8")
        return None, [out]
    raw = store.raw_snapshots(campaign)
    if segment_filter is not None:
        raw = raw[raw["participant_id"].isin(set(data.participants["participant_id"]))]
    return None, write_tables(analysis, raw, fmt, out)


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
