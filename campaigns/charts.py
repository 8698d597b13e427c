"""Plotly figures of an :class:`Analysis` (used by the HTML report and the Results page)."""

from __future__ import annotations

import plotly.graph_objects as go

from campaigns.types import VARIANTS, Analysis

COLOURS = {"A": "#1f77b4", "B": "#ff7f0e"}


def ratio_chart(analysis: Analysis) -> go.Figure:
    """Emotion ratios (pooled) of A next to B."""
    labels = list(analysis.data.campaign.labels)
    figure = go.Figure()
    for v in VARIANTS:
        summary = analysis.summaries[v]
        figure.add_bar(
            name=f"Variant {v}", x=labels, y=[summary.ratios[k] for k in labels], marker_color=COLOURS[v]
        )
    figure.update_layout(
        title=f"Emotion ratios at threshold {analysis.data.threshold:g}",
        barmode="group",
        yaxis_title="share of all snapshots",
        yaxis_tickformat=".0%",
    )
    return figure


def timeline_chart(analysis: Analysis) -> go.Figure:
    """% of viewers showing each emotion per second, A solid over B dashed."""
    figure = go.Figure()
    frame = analysis.timeline
    for v in VARIANTS:
        rows = frame[frame["variant"] == v]
        for label in analysis.data.campaign.labels:
            figure.add_scatter(
                x=rows["second"],
                y=rows[f"pct_{label}"],
                mode="lines",
                name=f"{v}: {label}",
                legendgroup=label,
                line={"dash": "solid" if v == "A" else "dash"},
            )
    figure.update_layout(
        title="Timeline: % of viewers showing each emotion (A solid, B dashed)",
        xaxis_title="seconds since the variant appeared",
        yaxis_title="% of viewers",
    )
    return figure


def feedback_chart(analysis: Analysis) -> go.Figure:
    """Distribution of ratings per variant."""
    scale = analysis.data.campaign.settings.rating_scale
    ratings = list(range(1, scale + 1))
    feedback = analysis.data.feedback
    figure = go.Figure()
    for v in VARIANTS:
        counts = feedback.loc[feedback["variant"] == v, "rating"].value_counts()
        figure.add_bar(
            name=f"Variant {v}",
            x=ratings,
            y=[int(counts.get(r, 0)) for r in ratings],
            marker_color=COLOURS[v],
        )
    figure.update_layout(
        title=analysis.data.campaign.settings.rating_question,
        barmode="group",
        xaxis_title=f"rating (1 very negative ... {scale} very positive)",
        yaxis_title="participants",
    )
    return figure


def quality_chart(analysis: Analysis) -> go.Figure:
    """Face-found rate of every participant-variant, with the exclusion line."""
    q = analysis.quality
    figure = go.Figure()
    for v in VARIANTS:
        rows = q[q["variant"] == v]
        excluded = int(rows["excluded"].sum())
        figure.add_box(
            y=rows["face_rate"],
            name=f"Variant {v} ({excluded} excluded)",
            boxpoints="all",
            marker_color=COLOURS[v],
            text=rows["participant_id"],
        )
    limit = analysis.data.campaign.settings.min_face_rate
    figure.add_hline(y=limit, line_dash="dot", annotation_text=f"exclusion below {limit:g}")
    figure.update_layout(
        title="Data quality: face-found rate per participant and variant",
        yaxis_title="face-found rate",
        yaxis_tickformat=".0%",
    )
    return figure


def all_charts(analysis: Analysis) -> dict[str, go.Figure]:
    """The report's charts keyed by a short id."""
    return {
        "ratios": ratio_chart(analysis),
        "timeline": timeline_chart(analysis),
        "feedback": feedback_chart(analysis),
        "quality": quality_chart(analysis),
    }
