"""Face detector settings: faces found vs faces invented, side by side.

``python -m benchmarks.detector [--faces 600] [--faceless 300] [--json]``

The pipeline evaluation (``python -m training.evaluate --pipeline``) reports
how many PrivateTest faces the app's detector finds in webcam-like frames.
More permissive Haar settings find more of them, but they also "find" faces
in frames that hold none, and every invented face would be classified and
stored as a participant's emotion. This benchmark measures both on the same
frames for the shipped settings and for more permissive ones:

- found: PrivateTest faces placed in 640x480 frames exactly as
  ``training.pipeline`` places them, counted when the largest detection overlaps
  the face (intersection over union >= ``training.pipeline.MIN_IOU``);
- invented: frames holding only the pipeline's textured background, counted
  when any face is detected;
- ms per frame (median), with the settings called in turn on each frame so a
  slow spell of the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.inference import DEFAULT_DATA
from emotion.faces import FaceDetector, to_grey
from training.data import load_fer2013
from training.pipeline import MIN_IOU, background, iou, synthetic_frame

#: The shipped settings first (the Haar cascade cross-checked by BlazeFace), then BlazeFace only as a
#: fallback where the cascade finds nothing (the detector before the cross-check), then the cascade
#: alone, at its shipped and ever more permissive settings (OpenCV's own knobs).
SETTINGS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "BlazeFace only where Haar finds none": {"cross_check": False},
    "Haar alone": {"fallback_min_score": None},
    "Haar alone, min_neighbors=2": {"min_neighbors": 2, "fallback_min_score": None},
    "Haar alone, scale 1.05, min_neighbors=1": {"scale_factor": 1.05, "min_neighbors": 1,
                                                "fallback_min_score": None},
}


def run(data_path: Path, *, faces: int, faceless: int, seed: int = 0) -> dict[str, Any]:
    cv2.setNumThreads(1)  # as in benchmarks.inference: one core per peer
    data = load_fer2013(data_path, "PrivateTest")
    rng = np.random.default_rng(seed)
    with_face = [synthetic_frame(image, rng) for image in data.images[:faces]]
    without = [background(rng) for _ in range(faceless)]
    detectors = {name: FaceDetector(**kwargs) for name, kwargs in SETTINGS.items()}
    names = list(detectors)
    found = dict.fromkeys(names, 0)
    invented = dict.fromkeys(names, 0)
    ms: dict[str, list[float]] = {name: [] for name in names}
    for i, (frame, (x, y, side)) in enumerate(with_face):
        grey = to_grey(frame)
        for name in names[i % len(names):] + names[:i % len(names)]:  # rotate who goes first
            start = time.perf_counter()
            boxes = detectors[name].detect(grey)
            ms[name].append((time.perf_counter() - start) * 1000.0)
            if boxes and iou((boxes[0].x, boxes[0].y, boxes[0].w, boxes[0].h), (x, y, side, side)) >= MIN_IOU:
                found[name] += 1
    for grey in without:
        for name in names:
            invented[name] += bool(detectors[name].detect(grey))
    return {"split": "PrivateTest", "faces": len(with_face), "faceless_frames": len(without),
            "settings": {name: {"detector": SETTINGS[name], "found_rate": found[name] / max(1, len(with_face)),
                                "invented_rate": invented[name] / max(1, len(without)),
                                "ms_per_frame_p50": float(np.median(ms[name])) if ms[name] else 0.0}
                         for name in names}}


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{result['faces']} PrivateTest faces in 640x480 frames, {result['faceless_frames']} frames without one",
             f"{'settings':<40}{'found':>8}{'invented':>10}{'ms/frame':>10}"]
    for name, row in result["settings"].items():
        lines.append(f"{name:<40}{row['found_rate']:>8.3f}{row['invented_rate']:>10.3f}{row['ms_per_frame_p50']:>10.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.detector", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="FER2013 CSV (default: ../shared copy)")
    p.add_argument("--faces", type=int, default=600, help="PrivateTest faces to place in frames")
    p.add_argument("--faceless", type=int, default=300, help="frames with background only")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: FER2013 CSV not found at {args.data}", file=sys.stderr)
        return 2
    if args.faces < 1 or args.faceless < 1:
        print("error: --faces and --faceless must be at least 1", file=sys.stderr)
        return 2
    try:
        result = run(args.data, faces=args.faces, faceless=args.faceless)
    except ValueError as exc:  # not a FER2013 CSV
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
