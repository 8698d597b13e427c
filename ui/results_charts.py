"""Figures and plain-word sentences of the Results page that the report does not have."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from campaigns.charts import COLOURS
from campaigns.types import VARIANTS, Analysis, Comparison, VariantSummary, Verdict

SCORE_NAMES = {"valence": "facial valence", "feedback": "feedback rating", "combined_score": "combined score"}
NO_COMMENT = "—"  # how a rating without a comment shows in the feedback table


def metric_name(metric: str) -> str:
    """How a compared metric is called in sentences."""
    return SCORE_NAMES.get(metric, f"share of “{metric}” snapshots")


def _diff_text(metric: str, value: float) -> str:
    # Emotion ratios are shares of snapshots: differences read best in percentage points.
    if metric in SCORE_NAMES:
        return f"{value:+.2f}"
    return f"{100 * value:+.1f} points"


def verdict_sentence(metric: str, c: Comparison, names: tuple[str, str] = ("A", "B")) -> str:
    """A comparison in plain words, with its numbers."""
    what = metric_name(metric)
    if c.verdict == Verdict.NOT_ENOUGH_DATA or math.isnan(c.diff):
        reason = f" ({c.reason})" if c.reason else ""
        return f"Not enough data to compare the {what}: {c.n} participants with valid data for both{reason}."
    p = c.p_adjusted if not math.isnan(c.p_adjusted) else c.p_value
    first, second = names
    numbers = (f"{first} − {second} = {_diff_text(metric, c.diff)}, 95% CI {_diff_text(metric, c.ci_low)} to "
               f"{_diff_text(metric, c.ci_high)}, p = {p:.3g}, n = {c.n}")
    if c.diff > 0 and c.verdict != Verdict.NO_CLEAR_DIFFERENCE:
        return f"**{first} ahead** on the {what}: {first} is higher than {second} ({numbers})."
    if c.diff < 0 and c.verdict != Verdict.NO_CLEAR_DIFFERENCE:
        return f"**{second} ahead** on the {what}: {second} is higher than {first} ({numbers})."
    return f"**No clear difference** in the {what} between {first} and {second} ({numbers})."


def score_parts(summaries: dict[str, VariantSummary], weight: float) -> pd.DataFrame:
    """Combined score with its two parts and their weights, one row per variant."""
    return pd.DataFrame([{"variant": v, "combined score": s.combined_score,
                          f"facial valence (× {weight:g})": s.valence,
                          f"feedback, centred (× {1 - weight:g})": s.feedback_centred,
                          "mean rating": s.feedback_raw, "ratings": s.feedback_n}
                         for v, s in summaries.items()])


def emotion_table(analysis: Analysis) -> pd.DataFrame:
    """Per label: ratio and share among confident snapshots of A and B, in percent."""
    labels = analysis.data.campaign.labels
    rows = {}
    for v in VARIANTS:
        s = analysis.summaries[v]
        rows[f"{v}: % of all snapshots"] = [100 * s.ratios[k] for k in labels]
        rows[f"{v}: % of confident"] = [100 * s.shares[k] for k in labels]
    return pd.DataFrame(rows, index=pd.Index(labels, name="emotion"))


def timeline_peaks(timeline: pd.DataFrame, label: str) -> dict[str, tuple[int, float]]:
    """Second and height of the highest point of ``label``'s curve, per variant."""
    peaks = {}
    column = f"pct_{label}"
    for v in VARIANTS:
        rows = timeline[timeline["variant"] == v]
        if len(rows) and rows[column].notna().any():
            top = rows.loc[rows[column].idxmax()]
            peaks[v] = (int(top["second"]), float(top[column]))
    return peaks


def timeline_figure(analysis: Analysis, label: str) -> go.Figure:
    """% of viewers showing ``label`` per second, A over B, each peak marked."""
    frame = analysis.timeline
    figure = go.Figure()
    for v in VARIANTS:
        rows = frame[frame["variant"] == v]
        figure.add_scatter(x=rows["second"], y=rows[f"pct_{label}"], mode="lines+markers", name=f"Variant {v}",
                           line={"color": COLOURS[v], "dash": "solid" if v == "A" else "dash"},
                           customdata=rows["viewers"], hovertemplate="%{y:.0f}% of %{customdata} viewers")
    for v, (second, pct) in timeline_peaks(frame, label).items():
        figure.add_annotation(x=second, y=pct, text=f"{v} peak {pct:.0f}% at {second} s", showarrow=True,
                              arrowcolor=COLOURS[v], font={"color": COLOURS[v]})
    figure.update_layout(title=f"“{label}” over time: % of viewers (A solid, B dashed)",
                         xaxis_title="seconds since the variant appeared", yaxis_title="% of viewers")
    return figure


def feedback_rows(table: pd.DataFrame, variant: str | None = None, comments_only: bool = False) -> pd.DataFrame:
    """Rows of :func:`campaigns.report.feedback_table` to show: one variant or both, optionally only
    the ratings that came with a comment."""
    rows = table if variant is None else table[table["variant"] == variant]
    if comments_only:
        rows = rows[rows["comment"].notna()]
    return rows.reset_index(drop=True)


def feedback_caption(table: pd.DataFrame, variants: tuple[str, ...] = VARIANTS) -> str:
    """Per variant shown: number of ratings, mean rating and how many came with a comment."""
    parts = []
    for v in variants:
        rows = table[table["variant"] == v]
        if len(rows):
            plural = "" if len(rows) == 1 else "s"
            parts.append(f"Variant {v}: {len(rows)} rating{plural}, mean {rows['rating'].mean():.2f}, "
                         f"{int(rows['comment'].notna().sum())} with a comment")
    return " · ".join(parts) or "No ratings to show."
