"""Every bad input path: a clear error naming the problem, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from campaigns.errors import (
    CampaignClosedError,
    CampaignError,
    CampaignStateError,
    ConfirmationError,
    MediaError,
    RatingError,
    SettingsError,
    SnapshotError,
    UnknownCampaignError,
    UnknownParticipantError,
)
from campaigns.store import Store
from campaigns.types import Campaign, SnapshotRow
from tests.campaigns.conftest import jpeg_bytes, make_live, mp4_bytes, png_bytes


@pytest.fixture
def world() -> Iterator[tuple[Store, Campaign, Campaign, Campaign, str]]:
    """A draft, a live (with data) and a closed campaign in one store."""
    with Store.open(":memory:", max_upload_bytes=50_000) as store:
        draft = store.create_campaign("Draft")
        store.set_variant(draft, "A", png_bytes(value=9), "keep.png")
        live = make_live(store, name="Live")
        pid = store.add_participant(live, "v1").id
        store.add_snapshots([SnapshotRow(pid, "A", 0, True, (0.8, 0.1, 0.1), "m")])
        store.add_feedback(pid, "A", 3)
        closed = make_live(store, name="Closed")
        store.close_campaign(closed)
        yield store, draft, live, closed, pid


def unchanged(store: Store, action: Callable[[], Any], error: type[Exception], match: str) -> None:
    """``action`` raises ``error`` with ``match`` in its message and leaves every table as it was."""
    before = store.table_counts()
    snapshot_rows = store.raw_snapshots("Live").drop(columns=["stored_at"])
    media = store.variant_media("Draft", "A")
    with pytest.raises(error, match=match):
        action()
    assert store.table_counts() == before
    pd.testing.assert_frame_equal(store.raw_snapshots("Live").drop(columns=["stored_at"]), snapshot_rows)
    assert store.variant_media("Draft", "A") == media


def test_unknown_campaign_or_token(world) -> None:  # type: ignore[no-untyped-def]
    store, *_ = world
    unchanged(store, lambda: store.campaign(999), UnknownCampaignError, "no campaign with id 999")
    unchanged(store, lambda: store.campaign("Nope"), UnknownCampaignError, "no campaign with name 'Nope'")
    unchanged(
        store, lambda: store.campaign_by_token("forged-token"), UnknownCampaignError, "participant link"
    )
    unchanged(store, lambda: store.campaign_by_token(""), UnknownCampaignError, "no campaign token")
    unchanged(store, lambda: store.add_participant(999, "v1"), UnknownCampaignError, "999")


def test_closed_and_draft_campaigns(world) -> None:  # type: ignore[no-untyped-def]
    store, draft, live, closed, pid = world
    unchanged(store, lambda: store.campaign_by_token(closed.token), CampaignClosedError, "'Closed' is closed")
    unchanged(
        store, lambda: store.campaign_by_token(draft.token), CampaignStateError, "not open to participants"
    )
    unchanged(store, lambda: store.add_participant(closed, "v1"), CampaignClosedError, "closed")
    unchanged(store, lambda: store.add_participant(draft, "v1"), CampaignStateError, "draft")
    closed_pid = store.participant(pid).id  # a participant of a campaign that then closes:
    store.close_campaign(live)
    unchanged(
        store,
        lambda: store.add_snapshots([SnapshotRow(closed_pid, "A", 5, False, None, "m")]),
        CampaignClosedError,
        "'Live' is closed and accepts no snapshots",
    )
    unchanged(
        store, lambda: store.add_feedback(closed_pid, "B", 4), CampaignClosedError, "accepts no feedback"
    )
    unchanged(
        store, lambda: store.edit_campaign(live, description="x"), CampaignClosedError, "edit its settings"
    )
    unchanged(store, lambda: store.go_live(closed), CampaignClosedError, "go live")
    unchanged(store, lambda: store.close_campaign(draft), CampaignStateError, "be closed")
    unchanged(store, lambda: store.go_live(draft), CampaignStateError, "variant B not uploaded")


@pytest.mark.parametrize("rating", [0, 6, -1, 3.5, True, "4", None])
def test_rating_outside_scale(world, rating: Any) -> None:  # type: ignore[no-untyped-def]
    store, _, _, _, pid = world
    unchanged(store, lambda: store.add_feedback(pid, "B", rating), RatingError, "from 1 to 5")


def test_feedback_other_bad_fields(world) -> None:  # type: ignore[no-untyped-def]
    store, _, _, _, pid = world
    unchanged(store, lambda: store.add_feedback(pid, "C", 3), CampaignError, "variant must be 'A' or 'B'")
    unchanged(store, lambda: store.add_feedback("ghost", "A", 3), UnknownParticipantError, "'ghost'")
    unchanged(store, lambda: store.add_feedback(pid, "A", 3, "x" * 2001), CampaignError, "Comment: 2001 characters")


def _rows(pid: str, probs: Any, face: bool = True, **extra: Any) -> list[SnapshotRow]:
    good = SnapshotRow(pid, "A", 100, True, (0.6, 0.3, 0.1), "m")
    return [
        good,
        SnapshotRow(
            pid,
            extra.pop("variant", "A"),
            extra.pop("offset_ms", 200),
            face,
            probs,
            extra.pop("model_id", "m"),
            **extra,
        ),
    ]


@pytest.mark.parametrize(
    ("probs", "face", "extra", "match"),
    [
        ((0.5, 0.5), True, {}, "mixes probability vectors of lengths"),
        ((0.25, 0.25, 0.25, 0.25), True, {}, "mixes probability vectors"),
        ((0.5, 0.3, 0.1), True, {}, r"sum to 0\.9000, not 1"),
        ((0.9, 0.3, 0.1), True, {}, "sum to 1.3000"),
        ((1.2, -0.1, -0.1), True, {}, "finite numbers within 0..1"),
        ((float("nan"), 0.5, 0.5), True, {}, "finite numbers within 0..1"),
        ((0.6, 0.3, 0.1), False, {}, "no face was found but probabilities were given"),
        (None, True, {}, "a face was found but no probabilities"),
        ((0.6, 0.3, 0.1), True, {"variant": "C"}, "variant must be 'A' or 'B'"),
        ((0.6, 0.3, 0.1), True, {"offset_ms": -5}, "offset_ms must be"),
        ((0.6, 0.3, 0.1), True, {"model_id": ""}, "model_id must be a non-empty text"),
        ((0.6, 0.3, 0.1), True, {"brightness": 300.0}, "brightness must be within 0..255"),
        ((0.6, 0.3, 0.1), True, {"face_ratio": 1.5}, "face_ratio must be within 0..1"),
        ((0.6, 0.3, 0.1), True, {"sharpness": -1.0}, "sharpness must not be negative"),
    ],
)
def test_bad_snapshot_rows_reject_the_whole_batch(
    world, probs: Any, face: bool, extra: dict[str, Any], match: str
) -> None:  # type: ignore[no-untyped-def]
    store, _, _, _, pid = world
    unchanged(store, lambda: store.add_snapshots(_rows(pid, probs, face, **extra)), SnapshotError, match)


def test_probabilities_must_match_the_campaign_labels(world) -> None:  # type: ignore[no-untyped-def]
    store, _, _, _, pid = world
    seven = [SnapshotRow(pid, "A", 0, True, (0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), "m")]
    unchanged(
        store,
        lambda: store.add_snapshots(seven),
        SnapshotError,
        "have 7 values but campaign 'Live' has 3 labels",
    )


def test_bad_snapshot_batches_other_shapes(world) -> None:  # type: ignore[no-untyped-def]
    store, _, _, _, pid = world
    unchanged(
        store,
        lambda: store.add_snapshots([SnapshotRow("ghost", "A", 0, False, None, "m")]),
        UnknownParticipantError,
        "unknown participant",
    )
    unchanged(
        store,
        lambda: store.add_snapshots(pd.DataFrame({"participant_id": [pid]})),
        SnapshotError,
        "missing column",
    )
    frame = pd.DataFrame(
        {
            "participant_id": [pid],
            "variant": ["A"],
            "offset_ms": [1.5],
            "face_found": [False],
            "probabilities": [None],
            "model_id": ["m"],
        }
    )
    unchanged(store, lambda: store.add_snapshots(frame), SnapshotError, "whole number of milliseconds")
    frame2 = frame.assign(offset_ms=[0], face_found=["yes"])
    unchanged(store, lambda: store.add_snapshots(frame2), SnapshotError, "face_found must be true or false")
    unchanged(store, lambda: store.add_snapshots(["not a row"]), SnapshotError, "must be a SnapshotRow")


def test_bad_uploads(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, draft, *_ = world
    png, jpeg, video = png_bytes(), jpeg_bytes(), mp4_bytes(tmp_path)
    cases: list[tuple[bytes, str]] = [
        (b"", "is empty"),
        (b"hello, this is text", "not a supported image"),
        (png[:8] + b"\x00" * 200, "truncated PNG"),
        (png[: len(png) // 2], "truncated PNG"),
        (png[:-12] + b"garbage!IEND\xaeB`\x82", "could not be decoded"),
        (jpeg[: len(jpeg) // 2], "truncated JPEG"),
        (video[: len(video) // 2], "could not be opened as a video"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100, "could not be opened as a video"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 60_000, "over the 0.1 MB limit"),
    ]
    for data, match in cases:
        unchanged(store, partial(store.set_variant, draft, "A", data, "ad.bin"), MediaError, match)
    unchanged(store, lambda: store.set_variant(draft, "C", png), CampaignError, "variant must be 'A' or 'B'")
    unchanged(store, lambda: store.set_variant(draft, "A", "text"), MediaError, "must be bytes")  # type: ignore[arg-type]


def test_invalid_settings_and_names(world) -> None:  # type: ignore[no-untyped-def]
    store, draft, *_ = world
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: store.create_campaign("X", settings={"rating_scale": 1}), SettingsError, "rating_scale"),
        (
            lambda: store.create_campaign("X", settings={"confidence_threshold": 1.5}),
            SettingsError,
            "setting confidence_threshold: must be a number from 0 to 1, not 1.5",
        ),
        (
            lambda: store.create_campaign("X", settings={"min_participants": 2.5}),
            SettingsError,
            "whole number",
        ),
        (lambda: store.create_campaign("X", settings={"colour": "red"}), SettingsError, "unknown setting"),
        (
            lambda: store.create_campaign("X", settings={"keep_face_crops": "yes"}),
            SettingsError,
            "true or false",
        ),
        (lambda: store.create_campaign("X", labels=("happy",)), SettingsError, "at least two distinct"),
        (lambda: store.create_campaign("X", labels=("a", "a")), SettingsError, "at least two distinct"),
        (lambda: store.create_campaign("X", labels="happy,sad"), SettingsError, "list of non-empty names"),
        (lambda: store.create_campaign("  "), CampaignError, r"Campaign name: cannot be empty \(enter 1–200"),
        (lambda: store.create_campaign("Live"), CampaignError, "'Live' already exists"),
        (
            lambda: store.edit_campaign(draft, settings={"valence_weight": -0.1}),
            SettingsError,
            "valence_weight",
        ),
        (lambda: store.load("Live", threshold=2.0), CampaignError, "threshold must be between 0 and 1"),
    ]
    for action, error, match in cases:
        unchanged(store, action, error, match)
    assert store.campaign(draft.id).settings == draft.settings


def test_participant_inputs(world) -> None:  # type: ignore[no-untyped-def]
    store, _, live, _, pid = world
    unchanged(store, lambda: store.add_participant(live, ""), CampaignError, "Consent version: cannot be empty")
    unchanged(store, lambda: store.add_participant(live, "v1", order="AA"), CampaignError, "'AB' or 'BA'")
    unchanged(
        store,
        lambda: store.add_participant(live, "v1", answers={"age": None}),
        CampaignError,
        "answer to 'age'",
    )
    unchanged(
        store,
        lambda: store.mark_participant(pid, "finished"),
        CampaignError,
        "one of started, complete, abandoned, got 'finished'",
    )
    assert store.participant(pid).status == "started"
    unchanged(store, lambda: store.mark_participant("ghost", "complete"), UnknownParticipantError, "ghost")
    unchanged(store, lambda: store.erase_participant("ghost"), UnknownParticipantError, "ghost")


def test_delete_needs_the_exact_name(world) -> None:  # type: ignore[no-untyped-def]
    store, _, live, *_ = world
    unchanged(store, lambda: store.delete_campaign(live, "live"), ConfirmationError, "type its name exactly")
    unchanged(store, lambda: store.delete_campaign(live, ""), ConfirmationError, "'Live'")


def test_array_batch_shape_errors() -> None:
    from campaigns.snapshots import batch_from_arrays

    face = np.array([True, False])
    with pytest.raises(SnapshotError, match="shape"):
        batch_from_arrays("p", "A", np.array([0, 1]), face, np.zeros((3, 3)), "m")
    with pytest.raises(SnapshotError, match="expected 2"):
        batch_from_arrays(np.array(["p"] * 3), "A", np.array([0, 1]), face, np.full((2, 3), np.nan), "m")
    with pytest.raises(SnapshotError, match="whole numbers"):
        batch_from_arrays("p", "A", np.array([0.5, 1.0]), face, np.full((2, 3), np.nan), "m")
