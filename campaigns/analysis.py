"""Metrics of DESIGN.md as pure functions over :class:`CampaignData` frames.

The store aggregates snapshots to participant-variant (and per-second) counts
at a threshold; everything here is small-frame arithmetic, so a Results page
can recompute it on every slider move. Units for statistics are participants.

Choices where the design leaves room (also in the report's definitions):
- a participant-variant counts as shown when it has a snapshot or a rating, or
  the participant completed the test (the flow shows both variants); one shown
  without any snapshot has face rate 0 and is excluded with that reason, never
  dropped (an abandoned participant's variant with no data at all may never
  have been shown, so it is not counted);
- exclusion (face-found rate below ``min_face_rate``) removes a participant's
  *facial* data for that variant (ratios, valence, timeline); their rating
  still counts for feedback;
- the combined score per participant needs facial data and a rating for the
  variant; the variant's score is ``w * mean V + (1 - w) * mean F``. A part
  whose weight is 0 is left out (w = 0: feedback only, w = 1: valence only),
  so missing data of that part does not void the score;
- a timeline participant with several snapshots in one second contributes the
  share of them that were confident with label k (1 snapshot/s: 0 or 1).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from campaigns.stats import N_RESAMPLES, adjust_bh, balance_p, compare_paired
from campaigns.types import (
    NEGATIVE_LABELS,
    POSITIVE_LABELS,
    VARIANTS,
    Analysis,
    CampaignData,
    Comparison,
    OrderBalance,
    VariantSummary,
    count_column,
)

SUMMARY_METRICS = ("valence", "feedback", "combined_score")
QUALITY_COLUMNS = [
    "participant_id",
    "variant",
    "snapshots",
    "faces",
    "confident",
    "face_rate",
    "confident_rate",
    "face_ratio",
    "brightness",
    "sharpness",
    "excluded",
    "exclusion_reason",
]
_KEYS = ["participant_id", "variant"]
_COUNTS = ["snapshots", "faces", "confident"]
_QUALITY_MEANS = ["face_ratio", "brightness", "sharpness"]
NO_SNAPSHOTS = "no snapshots"


def _div(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else math.nan


def ratio_column(label: str) -> str:
    """Column of participant ratio r_ik in :func:`face_metrics`."""
    return f"r_{label}"


def centred_rating(rating: pd.Series | np.ndarray | float, scale: int) -> pd.Series | np.ndarray | float:
    """F = 2 (R - 1) / (K - 1) - 1: rating 1..K mapped onto -1..1."""
    return 2 * (rating - 1) / (scale - 1) - 1


def weighted_score(w: float, valence: pd.Series | float, feedback: pd.Series | float) -> pd.Series | float:
    """S = w V + (1 - w) F; a part with weight 0 is left out, so its missing data (NaN) cannot void S."""
    # 0 * NaN is NaN: without these branches "0 = feedback only" would still need facial data.
    if w <= 0:
        return feedback
    if w >= 1:
        return valence
    return w * valence + (1 - w) * feedback


def _participant_variants(data: CampaignData) -> pd.DataFrame:
    """Counts of every participant-variant that was shown, zero where no snapshot arrived.

    ``data.counts`` only has rows with snapshots; a variant that was rated, or
    belongs to a participant who completed the test, without any snapshot must
    still appear so that its exclusion is counted, not silently dropped.
    """
    people = data.participants
    complete = people.loc[people["status"] == "complete", "participant_id"].to_numpy()
    both = pd.DataFrame(
        {
            "participant_id": np.repeat(complete, len(VARIANTS)),
            "variant": np.tile(np.array(VARIANTS, dtype=object), len(complete)),
        }
    )
    shown = pd.concat([data.counts[_KEYS], data.feedback[_KEYS], both], ignore_index=True).drop_duplicates()
    frame = shown.merge(data.counts, on=_KEYS, how="left").sort_values(_KEYS, ignore_index=True)
    counted = [*_COUNTS, *(count_column(k) for k in data.campaign.labels)]
    frame[counted] = frame[counted].fillna(0).astype(np.int64)
    # Mean quality is absent from counts fetched for a threshold alone.
    return frame.reindex(columns=[*_KEYS, *counted, *_QUALITY_MEANS])


def _with_quality(frame: pd.DataFrame, min_face_rate: float) -> pd.DataFrame:
    """Add face/confident rates (0 without snapshots), the excluded flag and its reason."""
    snapshots = frame["snapshots"].where(frame["snapshots"] > 0)
    frame["face_rate"] = (frame["faces"] / snapshots).fillna(0.0)
    frame["confident_rate"] = (frame["confident"] / snapshots).fillna(0.0)
    none = frame["snapshots"] == 0
    low = frame["face_rate"] < min_face_rate
    # Without snapshots there is no facial data at all, even when min_face_rate is 0.
    frame["excluded"] = (none | low).astype(bool)
    frame["exclusion_reason"] = np.where(
        none, NO_SNAPSHOTS, np.where(low, f"face rate below {min_face_rate:g}", "")
    )
    return frame


def quality(data: CampaignData) -> pd.DataFrame:
    """Per shown participant and variant: counts, face/confident rates, mean quality, excluded flag and reason."""
    frame = _with_quality(_participant_variants(data), data.campaign.settings.min_face_rate)
    return frame[QUALITY_COLUMNS]


def face_metrics(data: CampaignData) -> pd.DataFrame:
    """Per participant and variant: quality, counts ``n_<label>``, ratios r_<label>, valence V.

    Ratios and valence are NaN for a participant-variant without snapshots (always excluded).
    """
    labels = data.campaign.labels
    frame = _with_quality(_participant_variants(data), data.campaign.settings.min_face_rate)
    snapshots = frame["snapshots"].where(frame["snapshots"] > 0)
    for label in labels:
        frame[ratio_column(label)] = frame[count_column(label)] / snapshots
    positive = [ratio_column(k) for k in labels if k in POSITIVE_LABELS]
    negative = [ratio_column(k) for k in labels if k in NEGATIVE_LABELS]
    valence = frame[positive].sum(axis=1) - frame[negative].sum(axis=1)
    frame["valence"] = valence.where(snapshots.notna())  # sum() would turn all-NaN rows into 0
    return frame


def feedback_scores(data: CampaignData) -> pd.DataFrame:
    """Ratings with their centred value F in column ``feedback``."""
    frame = data.feedback[["participant_id", "variant", "rating"]].copy()
    frame["feedback"] = centred_rating(frame["rating"].astype(float), data.campaign.settings.rating_scale)
    return frame


def paired_values(data: CampaignData, metric: str) -> pd.DataFrame:
    """Columns A and B of ``metric`` for participants with valid data for both.

    ``metric`` is a label, ``valence``, ``feedback`` or ``combined_score``.
    """
    face = face_metrics(data)
    face = face[~face["excluded"]]
    if metric == "feedback":
        frame, column = feedback_scores(data), "feedback"
    elif metric == "combined_score":
        # Outer join: with weight 0 on one part, a participant lacking that part still has a score;
        # otherwise a missing part leaves NaN and dropna() below keeps only complete pairs.
        frame = face.merge(feedback_scores(data), on=_KEYS, how="outer")
        frame["combined_score"] = weighted_score(
            data.campaign.settings.valence_weight, frame["valence"], frame["feedback"]
        )
        column = "combined_score"
    elif metric == "valence":
        frame, column = face, "valence"
    elif metric in data.campaign.labels:
        frame, column = face, ratio_column(metric)
    else:
        raise ValueError(f"unknown metric {metric!r}; use a label, valence, feedback or combined_score")
    wide = frame.pivot_table(index="participant_id", columns="variant", values=column, aggfunc="first")
    return wide.reindex(columns=list(VARIANTS)).dropna()


def variant_summaries(data: CampaignData) -> dict[str, VariantSummary]:
    """Per-variant summary at the data's threshold (pooled ratios: the seed formula)."""
    labels = data.campaign.labels
    settings = data.campaign.settings
    face = face_metrics(data)
    included = face[~face["excluded"]]
    scores = feedback_scores(data)
    result = {}
    for v in VARIANTS:
        rows = included[included["variant"] == v]
        snaps, confident = rows["snapshots"].sum(), rows["confident"].sum()
        counts = {k: rows[count_column(k)].sum() for k in labels}
        rated = scores[scores["variant"] == v]
        valence = float(rows["valence"].mean()) if len(rows) else math.nan
        fb_centred = float(rated["feedback"].mean()) if len(rated) else math.nan
        result[v] = VariantSummary(
            variant=v,
            participants=int(rows["participant_id"].nunique()),
            snapshots=int(snaps),
            face_rate=_div(rows["faces"].sum(), snaps),
            confident_rate=_div(confident, snaps),
            ratios={k: _div(counts[k], snaps) for k in labels},
            shares={k: _div(counts[k], confident) for k in labels},
            valence=valence,
            feedback_n=len(rated),
            feedback_raw=float(rated["rating"].mean()) if len(rated) else math.nan,
            feedback_centred=fb_centred,
            combined_score=float(weighted_score(settings.valence_weight, valence, fb_centred)),
            excluded=int((face["excluded"] & (face["variant"] == v)).sum()),
        )
    return result


def compare_variants(
    data: CampaignData, *, seed: int = 0, n_resamples: int = N_RESAMPLES
) -> dict[str, Comparison]:
    """Paired A-vs-B comparison of every emotion ratio, valence, feedback and combined score.

    Emotion p-values are Benjamini-Hochberg adjusted as one family. Fewer
    ``n_resamples`` (e.g. 2,000 while a slider moves) make the bootstrap faster.
    """
    min_n = data.campaign.settings.min_participants
    result = {}
    for metric in (*data.campaign.labels, *SUMMARY_METRICS):
        wide = paired_values(data, metric)
        result[metric] = compare_paired(
            wide["A"], wide["B"], metric=metric, min_n=min_n, seed=seed, n_resamples=n_resamples
        )
    return adjust_bh(result, data.campaign.labels, min_n=min_n)


def timeline(data: CampaignData) -> pd.DataFrame:
    """Per variant and second since onset: viewers and % showing each emotion (``pct_<label>``)."""
    labels = data.campaign.labels
    q = quality(data)
    kept = q.loc[~q["excluded"], ["participant_id", "variant"]]
    s = data.seconds.merge(kept, on=["participant_id", "variant"], how="inner")
    shares = pd.DataFrame({"variant": s["variant"], "second": s["second"]})
    for label in labels:
        shares[f"pct_{label}"] = 100.0 * s[count_column(label)] / s["snapshots"]
    grouped = shares.groupby(["variant", "second"], sort=True)
    out = grouped.mean()
    out.insert(0, "viewers", grouped.size())
    return out.reset_index()


def order_balance(data: CampaignData, *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> OrderBalance:
    """A-B vs B-A counts (binomial test) and first-minus-second effects on valence and feedback.

    The counts cover the participants counterbalancing balances (``Store.add_participant``): all but
    those who abandoned before any snapshot or rating, who never saw an ad in their order."""
    people = data.participants
    with_data = set(data.counts["participant_id"]) | set(data.feedback["participant_id"])
    counted = people[(people["status"] != "abandoned") | people["participant_id"].isin(with_data)]
    orders = counted.set_index("participant_id")["variant_order"]
    ab, ba = int((orders == "AB").sum()), int((orders == "BA").sum())
    min_n = data.campaign.settings.min_participants
    effects = {}
    for metric in ("valence", "feedback"):
        wide = paired_values(data, metric).join(orders, how="inner")
        first_is_a = (wide["variant_order"] == "AB").to_numpy()
        first = np.where(first_is_a, wide["A"], wide["B"])
        second = np.where(first_is_a, wide["B"], wide["A"])
        effects[metric] = compare_paired(
            first,
            second,
            metric=metric,
            min_n=min_n,
            seed=seed,
            names=("first", "second"),
            n_resamples=n_resamples,
        )
    return OrderBalance(ab=ab, ba=ba, p_value=balance_p(ab, ba), order_effect=effects)


def analyze(data: CampaignData, *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> Analysis:
    """Summaries, comparisons, timeline, quality and order balance in one object."""
    return Analysis(
        data=data,
        summaries=variant_summaries(data),
        comparisons=compare_variants(data, seed=seed, n_resamples=n_resamples),
        timeline=timeline(data),
        quality=quality(data),
        order=order_balance(data, seed=seed, n_resamples=n_resamples),
    )


# -- segments ----------------------------------------------------------------


def segment_questions(data: CampaignData) -> dict[str, list[str]]:
    """Stored segment questions and their distinct answers."""
    grouped = data.answers.groupby("question")["answer"]
    return {str(q): sorted(str(a) for a in answers.unique()) for q, answers in grouped}


def segment(data: CampaignData, question: str, answer: str) -> CampaignData:
    """The same data restricted to participants who gave ``answer`` to ``question``."""
    a = data.answers
    ids = set(a.loc[(a["question"] == question) & (a["answer"] == answer), "participant_id"])

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["participant_id"].isin(ids)].reset_index(drop=True)

    return replace(
        data,
        counts=keep(data.counts),
        seconds=keep(data.seconds),
        feedback=keep(data.feedback),
        participants=keep(data.participants),
        answers=keep(data.answers),
    )


def segment_summaries(data: CampaignData, question: str) -> dict[str, dict[str, VariantSummary]]:
    """Variant summaries for every answer to ``question`` (empty if nobody answered it)."""
    answers = segment_questions(data).get(question, [])
    return {answer: variant_summaries(segment(data, question, answer)) for answer in answers}
