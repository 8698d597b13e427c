"""Known-value tests of every metric, on a tiny campaign computed by hand.

Labels (happy, sad, neutral); threshold 0.6; min_face_rate 0.5; ratings 1..5;
valence weight 0.5. Participant P1 (order AB) and P2 (order BA):

P1-A  t=0 happy .7 conf | t=1 happy .5 unconf | t=2 sad .8 conf | t=3 no face
      -> 4 snapshots, 3 faces, 2 confident; r_happy 1/4, r_sad 1/4; V = 0
P1-B  t=0 happy .9 conf | t=1 neutral .7 conf -> r_happy 1/2, r_neutral 1/2; V = 1/2
P2-A  no face, no face, t=2 happy .6 conf -> face rate 1/3 < 0.5: EXCLUDED
P2-B  t=0 sad .6 conf | t=0.5 neutral .8 conf | t=1 no face -> r_sad 1/3, r_neutral 1/3; V = -1/3
Ratings: P1 A=4 (F=.5) B=2 (F=-.5); P2 A=5 (F=1) B=1 (F=-1).
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from campaigns.analysis import (
    NO_SNAPSHOTS,
    analyze,
    centred_rating,
    compare_variants,
    face_metrics,
    paired_values,
    quality,
    segment,
    segment_questions,
    segment_summaries,
    timeline,
    variant_summaries,
)
from campaigns.store import Store
from campaigns.types import SnapshotRow, Verdict
from tests.campaigns.conftest import make_live

H, S, N = (0.7, 0.2, 0.1), (0.1, 0.8, 0.1), (0.2, 0.1, 0.7)


def hand_campaign(store: Store, name: str = "Spring ad", **settings: object):  # type: ignore[no-untyped-def]
    """The hand-computed campaign of the module docstring; ``settings`` override its own."""
    campaign = make_live(store, name, **cast("dict[str, Any]", {"min_participants": 2, **settings}))
    p1 = store.add_participant(campaign, "v1", answers={"age": "18-24"})
    p2 = store.add_participant(campaign, "v1", answers={"age": "25-34"})
    assert (p1.order, p2.order) == ("AB", "BA")
    rows = [
        SnapshotRow(p1.id, "A", 0, True, H, "m", brightness=100.0, sharpness=10.0),
        SnapshotRow(p1.id, "A", 1000, True, (0.5, 0.3, 0.2), "m", brightness=120.0, sharpness=30.0),
        SnapshotRow(p1.id, "A", 2000, True, S, "m", brightness=140.0, sharpness=50.0),
        SnapshotRow(p1.id, "A", 3000, False, None, "m"),
        SnapshotRow(p1.id, "B", 0, True, (0.9, 0.05, 0.05), "m"),
        SnapshotRow(p1.id, "B", 1000, True, N, "m"),
        SnapshotRow(p2.id, "A", 0, False, None, "m"),
        SnapshotRow(p2.id, "A", 1000, False, None, "m"),
        SnapshotRow(p2.id, "A", 2000, True, (0.6, 0.3, 0.1), "m"),
        SnapshotRow(p2.id, "B", 0, True, (0.3, 0.6, 0.1), "m"),
        SnapshotRow(p2.id, "B", 500, True, (0.1, 0.1, 0.8), "m"),
        SnapshotRow(p2.id, "B", 1000, False, None, "m"),
    ]
    assert store.add_snapshots(rows) == 12
    for pid, a, b in ((p1.id, 4, 2), (p2.id, 5, 1)):
        store.add_feedback(pid, "A", a)
        store.add_feedback(pid, "B", b)
    return store, campaign, p1, p2


@pytest.fixture
def hand(store: Store):  # type: ignore[no-untyped-def]
    return hand_campaign(store)


def test_variant_summaries_match_hand_computation(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, _, _ = hand
    s = variant_summaries(store.load(campaign))
    a, b = s["A"], s["B"]
    assert (a.participants, a.snapshots, a.excluded) == (1, 4, 1)
    assert a.face_rate == pytest.approx(3 / 4) and a.confident_rate == pytest.approx(2 / 4)
    assert a.ratios == pytest.approx({"happy": 1 / 4, "sad": 1 / 4, "neutral": 0.0})
    assert a.shares == pytest.approx({"happy": 1 / 2, "sad": 1 / 2, "neutral": 0.0})
    assert a.valence == pytest.approx(0.0)
    assert (a.feedback_n, a.feedback_raw, a.feedback_centred) == (2, pytest.approx(4.5), pytest.approx(0.75))
    assert a.combined_score == pytest.approx(0.375)
    assert (b.participants, b.snapshots, b.excluded) == (2, 5, 0)
    assert b.face_rate == pytest.approx(4 / 5) and b.confident_rate == pytest.approx(4 / 5)
    # Pooled (the seed formula), not the mean of participant ratios (which would be 1/4, 1/6, 5/12).
    assert b.ratios == pytest.approx({"happy": 1 / 5, "sad": 1 / 5, "neutral": 2 / 5})
    assert b.shares == pytest.approx({"happy": 1 / 4, "sad": 1 / 4, "neutral": 1 / 2})
    assert b.valence == pytest.approx((1 / 2 - 1 / 3) / 2)
    assert b.feedback_raw == pytest.approx(1.5) and b.feedback_centred == pytest.approx(-0.75)
    assert b.combined_score == pytest.approx(0.5 * (1 / 12) + 0.5 * (-0.75))


def test_threshold_moves_confidence_at_float32_precision(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, _, _ = hand
    # At 0.7 the stored float32 0.7 still counts; P2-B's sad 0.6 no longer does.
    b = variant_summaries(store.load(campaign, 0.7))["B"]
    assert b.ratios == pytest.approx({"happy": 1 / 5, "sad": 0.0, "neutral": 2 / 5})
    assert b.confident_rate == pytest.approx(3 / 5)
    a = variant_summaries(store.load(campaign, 0.85))["A"]
    assert a.ratios == pytest.approx({"happy": 0.0, "sad": 0.0, "neutral": 0.0})
    assert a.confident_rate == 0.0
    a0 = variant_summaries(store.load(campaign, 0.0))["A"]
    assert a0.ratios == pytest.approx({"happy": 2 / 4, "sad": 1 / 4, "neutral": 0.0})


def test_quality_and_exclusion(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, p1, p2 = hand
    q = quality(store.load(campaign)).set_index(["participant_id", "variant"])
    assert q.loc[(p2.id, "A"), "face_rate"] == pytest.approx(1 / 3)
    assert bool(q.loc[(p2.id, "A"), "excluded"]) is True
    assert not q.drop(index=(p2.id, "A"))["excluded"].any()
    assert q.loc[(p1.id, "A"), "brightness"] == pytest.approx(120.0)
    assert q.loc[(p1.id, "A"), "sharpness"] == pytest.approx(30.0)
    assert q.loc[(p1.id, "A"), "confident_rate"] == pytest.approx(0.5)
    assert q.loc[(p2.id, "A"), "exclusion_reason"] == "face rate below 0.5"
    assert (q.drop(index=(p2.id, "A"))["exclusion_reason"] == "").all()
    assert len(q) == 4


def test_centred_feedback_formula() -> None:
    assert [centred_rating(r, 5) for r in (1, 2, 3, 4, 5)] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert centred_rating(4, 7) == pytest.approx(0.0)


def test_paired_values_use_only_valid_pairs(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, p1, p2 = hand
    data = store.load(campaign)
    valence = paired_values(data, "valence")
    assert list(valence.index) == [p1.id]  # P2-A is excluded
    assert valence.loc[p1.id].tolist() == pytest.approx([0.0, 0.5])
    feedback = paired_values(data, "feedback")
    assert feedback.loc[p1.id].tolist() == pytest.approx([0.5, -0.5])
    assert feedback.loc[p2.id].tolist() == pytest.approx([1.0, -1.0])
    combined = paired_values(data, "combined_score")
    assert combined.loc[p1.id].tolist() == pytest.approx([0.25, 0.0])
    with pytest.raises(ValueError, match="unknown metric"):
        paired_values(data, "joy")


def test_comparisons_cross_checked_with_scipy(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, _, _ = hand
    comparisons = compare_variants(store.load(campaign), seed=7)
    assert set(comparisons) == {"happy", "sad", "neutral", "valence", "feedback", "combined_score"}
    fb = comparisons["feedback"]
    d = np.array([1.0, 2.0])
    assert (fb.n, fb.diff) == (2, pytest.approx(1.5))
    assert fb.p_value == pytest.approx(stats.wilcoxon(d).pvalue)
    ci = stats.bootstrap((d,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(7))
    assert (fb.ci_low, fb.ci_high) == (
        pytest.approx(ci.confidence_interval.low),
        pytest.approx(ci.confidence_interval.high),
    )
    assert fb.verdict == Verdict.NO_CLEAR_DIFFERENCE  # p = 0.5 with two participants
    # One valid pair: no interval, and 1 < min_participants (2).
    val = comparisons["valence"]
    assert (val.n, val.diff, val.verdict) == (1, pytest.approx(-0.5), Verdict.NOT_ENOUGH_DATA)
    assert math.isnan(val.ci_low) and "at least 2" in (val.reason or "")


def test_timeline_percent_of_viewers(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, _, _ = hand
    t = timeline(store.load(campaign)).set_index(["variant", "second"])
    assert t.loc[("B", 0), ["viewers", "pct_happy", "pct_sad", "pct_neutral"]].tolist() == [2, 50, 25, 25]
    assert t.loc[("B", 1), ["viewers", "pct_happy", "pct_sad", "pct_neutral"]].tolist() == [2, 0, 0, 50]
    # Only P1 is shown for A: P2-A is excluded.
    assert t.loc[("A", 0), ["viewers", "pct_happy"]].tolist() == [1, 100]
    assert t.loc[("A", 1), ["pct_happy", "pct_sad", "pct_neutral"]].tolist() == [0, 0, 0]
    assert t.loc[("A", 2), "pct_sad"] == 100
    assert list(t.loc["A"].index) == [0, 1, 2, 3]


def test_segments_filter_participants(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, p1, _ = hand
    data = store.load(campaign)
    assert segment_questions(data) == {"age": ["18-24", "25-34"]}
    young = segment(data, "age", "18-24")
    assert set(young.participants["participant_id"]) == {p1.id}
    assert variant_summaries(young)["B"].ratios["happy"] == pytest.approx(1 / 2)
    per_answer = segment_summaries(data, "age")
    assert set(per_answer) == {"18-24", "25-34"}
    assert per_answer["25-34"]["A"].participants == 0  # their only A data is excluded
    assert per_answer["25-34"]["A"].excluded == 1
    assert segment_summaries(data, "no such question") == {}


def test_order_balance_counts_and_effect(hand) -> None:  # type: ignore[no-untyped-def]
    store, campaign, _, _ = hand
    order = analyze(store.load(campaign)).order
    assert (order.ab, order.ba) == (1, 1)
    assert order.p_value == pytest.approx(1.0)
    # Feedback first-minus-second: P1 (AB) 0.5 - (-0.5) = 1; P2 (BA) -1 - 1 = -2.
    effect = order.order_effect["feedback"]
    assert (effect.n, effect.diff) == (2, pytest.approx(-0.5))
    assert effect.p_value == pytest.approx(stats.wilcoxon([1.0, -2.0]).pvalue)
    assert effect.verdict == "no clear difference"


def test_order_balance_counts_whom_counterbalancing_balances(hand) -> None:  # type: ignore[no-untyped-def]
    """Dropouts before any ad are not balanced by the store, so the balance check leaves them out too."""
    store, campaign, _, _ = hand
    dropouts = [store.add_participant(campaign, "v1") for _ in range(3)]
    assert [p.order for p in dropouts] == ["AB", "BA", "AB"]  # they count while in progress
    for dropout in dropouts:
        store.mark_participant(dropout.id, "abandoned")
    rated = store.add_participant(campaign, "v1")
    store.add_feedback(rated.id, "A", 3)
    store.mark_participant(rated.id, "abandoned")  # abandoned after a rating: saw an ad in its order
    order = analyze(store.load(campaign)).order
    assert (order.ab, order.ba) == ({"AB": 2, "BA": 1}[rated.order], {"AB": 1, "BA": 2}[rated.order])


def test_empty_campaign_gives_reasons_not_errors(store: Store) -> None:
    campaign = make_live(store)
    result = analyze(store.load(campaign))
    assert math.isnan(result.summaries["A"].ratios["happy"])
    assert all(c.verdict == Verdict.NOT_ENOUGH_DATA and c.reason for c in result.comparisons.values())
    assert result.timeline.empty and result.quality.empty
    assert math.isnan(result.order.p_value)


def test_counts_equal_a_direct_pandas_computation(hand) -> None:  # type: ignore[no-untyped-def]
    from benchmarks.aggregation import pandas_counts

    store, campaign, _, _ = hand
    for threshold in (0.0, 0.55, 0.6, 0.7, 1.0):
        ours = store.participant_variant_counts(campaign, threshold)
        theirs = pandas_counts(store.snapshot_frame(campaign), campaign.labels, threshold)
        pd.testing.assert_frame_equal(ours, theirs[ours.columns].astype(ours.dtypes.to_dict()))


# -- participant-variants without any snapshot ----------------------------------


def test_a_rated_variant_without_snapshots_is_counted_as_excluded(hand) -> None:  # type: ignore[no-untyped-def]
    """P3's camera sent nothing during B, but P3 rated B: an excluded row, not a missing one."""
    store, campaign, _, _ = hand
    p3 = store.add_participant(campaign, "v1")
    store.add_snapshots([SnapshotRow(p3.id, "A", 0, True, H, "m"), SnapshotRow(p3.id, "A", 1000, True, H, "m")])
    store.add_feedback(p3.id, "A", 3)
    store.add_feedback(p3.id, "B", 5)
    data = store.load(campaign)
    q = quality(data).set_index(["participant_id", "variant"])
    assert len(q) == 6
    row = q.loc[(p3.id, "B")]
    assert (row["snapshots"], row["faces"], row["confident"]) == (0, 0, 0)
    assert (row["face_rate"], row["confident_rate"]) == (0.0, 0.0)
    assert bool(row["excluded"]) and row["exclusion_reason"] == NO_SNAPSHOTS
    assert math.isnan(row["brightness"])
    face = face_metrics(data).set_index(["participant_id", "variant"])
    assert math.isnan(face.loc[(p3.id, "B"), "valence"]) and math.isnan(face.loc[(p3.id, "B"), "r_happy"])
    b = variant_summaries(data)["B"]
    # Counted as excluded; B's facial numbers are those of P1 and P2 alone, the rating still counts.
    assert (b.participants, b.snapshots, b.excluded, b.feedback_n) == (2, 5, 1, 3)
    assert b.ratios == pytest.approx({"happy": 1 / 5, "sad": 1 / 5, "neutral": 2 / 5})
    assert b.feedback_raw == pytest.approx(8 / 3)
    assert p3.id not in paired_values(data, "valence").index
    assert paired_values(data, "feedback").loc[p3.id].tolist() == pytest.approx([0.0, 1.0])
    assert list(timeline(data).query("variant == 'B'")["viewers"]) == [2, 2]


def test_a_complete_participant_counts_for_both_variants_an_abandoned_one_for_what_was_captured(
    store: Store,
) -> None:
    campaign = make_live(store, min_participants=2, min_face_rate=0.0)
    done, gone = store.add_participant(campaign, "v1"), store.add_participant(campaign, "v1")
    store.add_snapshots([SnapshotRow(p.id, "A", 0, True, H, "m") for p in (done, gone)])
    store.mark_participant(done.id, "complete")  # B was shown, though neither a snapshot nor a rating arrived
    store.mark_participant(gone.id, "abandoned")  # left during A: B may never have been shown
    q = quality(store.load(campaign)).set_index(["participant_id", "variant"])
    assert sorted(q.index) == sorted([(done.id, "A"), (done.id, "B"), (gone.id, "A")])
    # No snapshots is no facial data, even where min_face_rate 0 excludes nothing else.
    assert q["excluded"].tolist() == [row == (done.id, "B") for row in q.index]
    assert q.loc[(done.id, "B"), "exclusion_reason"] == NO_SNAPSHOTS
    summaries = variant_summaries(store.load(campaign))
    assert (summaries["A"].excluded, summaries["B"].excluded, summaries["B"].participants) == (0, 1, 0)


# -- combined score when the weight puts everything on one part -------------------


def test_weight_zero_scores_feedback_alone_without_facial_data(store: Store) -> None:
    """Every snapshot faceless (all excluded), ratings A=5, B=1: w = 0 is feedback only."""
    campaign = make_live(store, min_participants=2, valence_weight=0.0)
    people = [store.add_participant(campaign, "v1") for _ in range(4)]
    store.add_snapshots(
        [SnapshotRow(p.id, v, 1000 * k, False, None, "m") for p in people for v in "AB" for k in range(3)]
    )
    for p in people:
        store.add_feedback(p.id, "A", 5)
        store.add_feedback(p.id, "B", 1)
    result = analyze(store.load(campaign), seed=3)
    a, b = result.summaries["A"], result.summaries["B"]
    assert math.isnan(a.valence) and (a.excluded, b.excluded) == (4, 4)
    assert (a.combined_score, b.combined_score) == (pytest.approx(1.0), pytest.approx(-1.0))
    combined, feedback = result.comparisons["combined_score"], result.comparisons["feedback"]
    assert (combined.n, combined.diff, combined.verdict) == (4, pytest.approx(2.0), Verdict.A_AHEAD)
    assert (combined.p_value, combined.ci_low) == (pytest.approx(feedback.p_value), pytest.approx(2.0))


def test_weight_zero_or_one_scores_that_part_alone_on_the_hand_campaign(store: Store) -> None:
    _, campaign, p1, p2 = hand_campaign(store, valence_weight=0.0)
    data = store.load(campaign)
    s = variant_summaries(data)
    assert (s["A"].combined_score, s["B"].combined_score) == (pytest.approx(0.75), pytest.approx(-0.75))
    # P2-A is excluded for face, yet P2 has a feedback-only combined score for both variants.
    pd.testing.assert_frame_equal(paired_values(data, "combined_score"), paired_values(data, "feedback"))

    _, campaign, p1, p2 = hand_campaign(store, name="Valence only", valence_weight=1.0)
    p3 = store.add_participant(campaign, "v1")  # never rates: valence alone needs no rating
    store.add_snapshots([SnapshotRow(p3.id, v, 0, True, H if v == "A" else S, "m") for v in "AB"])
    data = store.load(campaign)
    s = variant_summaries(data)
    assert (s["A"].valence, s["A"].combined_score) == (pytest.approx(0.5), pytest.approx(0.5))  # (0 + 1) / 2
    assert s["B"].valence == pytest.approx((1 / 2 - 1 / 3 - 1) / 3)
    assert s["B"].combined_score == pytest.approx(s["B"].valence)
    combined = paired_values(data, "combined_score")
    pd.testing.assert_frame_equal(combined, paired_values(data, "valence"))
    assert list(combined.index) == sorted([p1.id, p3.id]) and combined.loc[p3.id].tolist() == [1.0, -1.0]


def test_weight_one_without_any_rating_still_has_a_combined_score(store: Store) -> None:
    campaign = make_live(store, min_participants=2, valence_weight=1.0)
    p = store.add_participant(campaign, "v1")
    store.add_snapshots([SnapshotRow(p.id, "A", 0, True, H, "m"), SnapshotRow(p.id, "B", 0, True, N, "m")])
    a = variant_summaries(store.load(campaign))["A"]
    assert math.isnan(a.feedback_centred) and a.combined_score == pytest.approx(1.0)
