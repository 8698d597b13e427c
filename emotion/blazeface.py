"""BlazeFace (short range): a small neural face detector for webcam frames.

The model file ``detectors/face_detection_short_range.tflite`` is MediaPipe's
short-range face detector (Apache License 2.0, copied unchanged from the
``mediapipe==0.10.14`` wheel; see ``detectors/README.md``). It is meant for
faces within about two metres of a front camera, which is what a participant
in front of a laptop is. It runs through the TFLite interpreter the classifier
already uses; no MediaPipe install is needed.

The decoding follows MediaPipe's published graph for this model: 896 SSD
anchors on a 128x128 input (strides 8, 16, 16, 16; two anchors per cell and
layer, fixed size), box and keypoint offsets in input pixels, a sigmoid score,
then non-maximum suppression. Frames are letterboxed (scaled to fit, padded)
so faces keep their shape.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion.faces import iou

MODEL_PATH = Path(__file__).resolve().parent / "detectors" / "face_detection_short_range.tflite"
INPUT_SIDE = 128
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2
#: Keypoints the model predicts, in its order (subject's right eye first: image-left in a selfie).
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear", "left_ear")


def anchor_centres() -> np.ndarray:
    """The (896, 2) anchor centres (x, y) in 0..1, in the model's output order."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(STRIDES):
        same = layer
        while same < len(STRIDES) and STRIDES[same] == STRIDES[layer]:
            same += 1
        per_cell = ANCHORS_PER_LAYER * (same - layer)
        cells = -(-INPUT_SIDE // STRIDES[layer])
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
        layer = same
    return np.array(centres, dtype=np.float32)


@dataclass(frozen=True)
class Detection:
    """One face: box and keypoints in frame pixels, and the model's score in 0..1."""

    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: np.ndarray  # (6, 2) x, y in frame pixels, in KEYPOINTS order


class BlazeFace:
    """Detect faces in grey or BGR frames. Thread-safe: one interpreter per thread."""

    def __init__(self, model_path: str | Path = MODEL_PATH, *, min_score: float = 0.5,
                 nms_iou: float = 0.3) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"BlazeFace model not found: {self.model_path}")
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {min_score}")
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.anchors = anchor_centres()
        self._local = threading.local()

    def _interpreter(self) -> tuple[object, int, int, int]:
        found = getattr(self._local, "interpreter", None)
        if found is None:
            from emotion.runtime import tflite_interpreter

            interp = tflite_interpreter(self.model_path, threads=1)
            outputs = {d["name"]: d["index"] for d in interp.get_output_details()}
            found = (interp, interp.get_input_details()[0]["index"], outputs["regressors"],
                     outputs["classificators"])
            self._local.interpreter = found
        return found  # type: ignore[no-any-return]

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces scoring at least ``min_score``, best first."""
        channels = 1 if frame.ndim == 2 else frame.shape[2]
        code = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}.get(channels)
        if code is None or frame.dtype != np.uint8:
            raise ValueError(f"expected a uint8 grey, BGR or BGRA frame, got {frame.shape} {frame.dtype}")
        rgb = cv2.cvtColor(frame, code)
        h, w = rgb.shape[:2]
        scale = INPUT_SIDE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        pad_x, pad_y = (INPUT_SIDE - nw) // 2, (INPUT_SIDE - nh) // 2
        canvas = np.zeros((INPUT_SIDE, INPUT_SIDE, 3), np.float32)
        canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        inputs = (canvas / 127.5 - 1.0).astype(np.float32)[None]  # the model's [-1, 1] RGB
        interp, inp, reg_idx, cls_idx = self._interpreter()
        interp.set_tensor(inp, inputs)  # type: ignore[attr-defined]
        interp.invoke()  # type: ignore[attr-defined]
        raw = interp.get_tensor(reg_idx)[0]  # type: ignore[attr-defined]
        logits = np.clip(interp.get_tensor(cls_idx)[0, :, 0].astype(np.float64), -100.0, 100.0)  # type: ignore[attr-defined]
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        # Offsets are in input pixels relative to the anchor centre; anchors have unit size.
        anchors = self.anchors[keep] * INPUT_SIDE
        reg = raw[keep]
        cx, cy = anchors[:, 0] + reg[:, 0], anchors[:, 1] + reg[:, 1]
        bw, bh = reg[:, 2], reg[:, 3]
        kps = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        # Back from the letterboxed input to frame pixels.
        def to_frame_x(v: np.ndarray) -> np.ndarray:
            return (v - pad_x) / scale

        def to_frame_y(v: np.ndarray) -> np.ndarray:
            return (v - pad_y) / scale

        boxes = np.stack([to_frame_x(cx - bw / 2), to_frame_y(cy - bh / 2), bw / scale, bh / scale], axis=1)
        kps = np.stack([to_frame_x(kps[..., 0]), to_frame_y(kps[..., 1])], axis=-1)
        order = np.argsort(-scores[keep])
        chosen: list[int] = []
        for i in order:
            if all(iou(boxes[i], boxes[j]) < self.nms_iou for j in chosen):
                chosen.append(int(i))
        return [Detection(float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3]),
                          float(scores[keep][i]), kps[i]) for i in chosen]

