"""BlazeFace, the cascade's second opinion, on real (fixture) faces, empty frames and bad input."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from emotion.blazeface import MODEL_PATH, BlazeFace, anchor_centres
from emotion.faces import FaceBox, FaceDetector, to_grey
from tests.emotion.helpers import all_faces, face, frame_with_face

MODEL_SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"


def test_the_committed_model_is_mediapipes_file_unchanged() -> None:
    assert hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() == MODEL_SHA256


def test_anchors_cover_the_input_in_the_models_order() -> None:
    anchors = anchor_centres()
    assert anchors.shape == (896, 2)
    # stride 8: 16x16 cells, 2 anchors each, row by row; then stride 16: 8x8 cells, 6 anchors each
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_finds_fixture_faces_with_eyes_above_the_mouth() -> None:
    detector = BlazeFace(min_score=0.3)
    hits = 0
    files = all_faces()
    for _, path in files:
        frame = frame_with_face(face(f"{path.parent.name}/{path.name}"))
        found = detector.detect(frame)
        if not found:
            continue
        best = found[0]
        cx, cy = best.x + best.w / 2, best.y + best.h / 2
        if 210 < cx < 430 and 130 < cy < 350:  # inside the 220 px face in the frame's middle
            hits += 1
            eyes_y = best.keypoints[:2, 1].mean()
            assert eyes_y < best.keypoints[3, 1]  # eyes above the mouth
            assert 0.3 <= best.score <= 1.0
    assert hits >= 0.7 * len(files), f"{hits} of {len(files)}"


@pytest.mark.parametrize("frame", [
    np.full((480, 640), 120, np.uint8),
    np.random.default_rng(0).integers(0, 256, (480, 640, 3)).astype(np.uint8),
    np.zeros((2, 3), np.uint8),
])
def test_no_face_in_empty_or_noise_or_tiny_frames(frame: np.ndarray) -> None:
    assert BlazeFace().detect(frame) == []


def test_bad_settings_are_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="BlazeFace model"):
        BlazeFace(tmp_path / "none.tflite")
    with pytest.raises(ValueError, match="min_score"):
        BlazeFace(min_score=1.5)
    with pytest.raises(ValueError, match="uint8"):
        BlazeFace().detect(np.zeros((48, 48, 2), np.uint8))


def test_the_detector_falls_back_when_the_cascade_finds_nothing() -> None:
    grey = to_grey(frame_with_face(face(f"{all_faces()[0][1].parent.name}/{all_faces()[0][1].name}")))
    # A cascade that needs 200 overlapping hits finds no face here; the fallback does, and
    # reframes its box to the square FER2013 framing around the 220 px face in the middle.
    blind: dict[str, Any] = dict(min_neighbors=200)
    assert FaceDetector(**blind, fallback_min_score=None).detect(grey) == []
    boxes = FaceDetector(**blind, fallback_min_score=0.2).detect(grey)
    assert boxes, "the fallback found no face"
    box = boxes[0]
    assert box.w == box.h and 150 <= box.w <= 300
    assert abs(box.center[0] - 320) < 40 and abs(box.center[1] - 240) < 40
    # The fallback keeps the cascade's smallest face size: a face under it is not reported.
    assert FaceDetector(**blind, min_face_ratio=0.9, fallback_min_score=0.2).detect(grey) == []


def test_a_cascade_false_alarm_gives_way_to_the_face_blazeface_confirms() -> None:
    from emotion.faces import iou
    from training.pipeline import synthetic_frame

    # A pipeline frame (seed 0) in which the cascade's largest box lies off the face: before the
    # cross-check that box was the participant's face, and BlazeFace was not asked.
    frame, (x, y, side) = synthetic_frame(face("disgust/12724.png"), np.random.default_rng(0))
    grey = to_grey(frame)

    def overlap(box: FaceBox) -> float:
        return iou((box.x, box.y, box.w, box.h), (x, y, side, side))

    cascade = FaceDetector().detect_haar(grey)
    assert cascade and overlap(cascade[0]) < 0.3
    assert overlap(FaceDetector(cross_check=False).detect(grey)[0]) < 0.3
    found = FaceDetector().detect(grey)
    assert overlap(found[0]) >= 0.3  # the face BlazeFace sees comes first...
    assert found[-len(cascade):] == [b for b in cascade if overlap(b) < 0.3]  # ...the unconfirmed box stays, last


def test_eye_search_in_a_box_partly_above_the_frame_does_not_wrap_round() -> None:
    grey = to_grey(frame_with_face(face(f"{all_faces()[0][1].parent.name}/{all_faces()[0][1].name}")))
    # A box whose eye band lies wholly above the frame: nothing to search, rather than the whole frame.
    assert FaceDetector().find_eyes(grey, FaceBox(100, -300, 200, 200)) is None
