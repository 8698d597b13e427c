"""Evaluate a saved model: ``python -m training.evaluate``.

Reports accuracy, per-class precision/recall/F1, macro F1, unweighted average
recall (UAR), expected calibration error and the confusion matrix (numbers and
a PNG heatmap). FER2013 rules: tune on PublicTest, report on PrivateTest.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import FaceDataset, load_dataset, select_classes

ECE_BINS = 15


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    labels: tuple[str, ...]
    n: int
    accuracy: float
    macro_f1: float
    uar: float
    ece: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1, macro F1 and UAR from a confusion matrix.

    A class never predicted has precision 0; a class absent from the data is
    left out of the macro averages (its recall is undefined).
    """
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "per_class": {name: ClassMetrics(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
                      for i, name in enumerate(labels)},
    }


def reliability_bins(probs: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin: mean confidence, accuracy and count (equal-width bins on (0, 1])."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    acc_sum = np.bincount(index, weights=correct, minlength=bins)
    safe = np.maximum(counts, 1)
    return conf_sum / safe, acc_sum / safe, counts


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over ``bins`` bins."""
    if len(y_true) == 0:
        raise ValueError("ECE of an empty set is undefined")
    conf, acc, counts = reliability_bins(np.asarray(probs), np.asarray(y_true), bins)
    return float(np.sum(counts * np.abs(conf - acc)) / counts.sum())


def fit_temperature(probs: np.ndarray, y_true: np.ndarray, *, bounds: tuple[float, float] = (0.25, 8.0)) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(log p / T) (Guo et al. 2017).

    Fit it on the tuning split only; it rescales confidence without changing any top label.
    """
    from scipy.optimize import minimize_scalar

    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("cannot fit a temperature on an empty set")
    log_p = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(log_t: float) -> float:
        z = log_p / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_softmax[np.arange(len(y_true)), y_true].mean())

    result = minimize_scalar(nll, bounds=tuple(np.log(bounds)), method="bounded")
    return float(np.exp(result.x))


def evaluate_probabilities(probs: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...]) -> Evaluation:
    cm = confusion_matrix(y_true, probs.argmax(axis=1), len(labels))
    m = metrics_from_confusion(cm, labels)
    return Evaluation(labels=labels, n=int(len(y_true)), accuracy=m["accuracy"], macro_f1=m["macro_f1"],
                      uar=m["uar"], ece=expected_calibration_error(probs, y_true),
                      per_class=m["per_class"], confusion_matrix=cm.tolist())


def align_to_model(data: FaceDataset, model_labels: tuple[str, ...]) -> FaceDataset:
    """Renumber a dataset's labels into the model's order (and keep only the model's classes)."""
    missing = [name for name in model_labels if name not in data.label_names]
    if missing:
        raise ValueError(f"the model predicts {list(model_labels)} but the data has no {missing}")
    return select_classes(data, model_labels)


def plot_confusion(cm: np.ndarray, labels: tuple[str, ...], path: Path, *, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (count, row %)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_reliability(probs: np.ndarray, y_true: np.ndarray, path: Path, *, bins: int = ECE_BINS) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf, acc, counts = reliability_bins(probs, y_true, bins)
    centres = (np.arange(bins) + 0.5) / bins
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    used = counts > 0
    ax.bar(centres[used], acc[used], width=1 / bins, alpha=0.6, edgecolor="k", label="accuracy")
    ax.plot(conf[used], acc[used], "o-", color="tab:red", label="mean confidence -> accuracy")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability, ECE {expected_calibration_error(probs, y_true, bins):.3f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_evaluation(model_dir: Path, data_path: Path, split: str, *, flip_average: bool | None = None,
                   output_dir: Path | None = None) -> Evaluation:
    """Score a dataset split with a saved model; write the plots to ``output_dir`` if given."""
    probs, y_true, labels = predict_split(model_dir, data_path, split, flip_average=flip_average)
    result = evaluate_probabilities(probs, y_true, labels)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        plot_confusion(np.array(result.confusion_matrix), labels, output_dir / "confusion_matrix.png",
                       title=f"{split}: accuracy {result.accuracy:.3f}")
        plot_reliability(probs, y_true, output_dir / "reliability.png")
    return result


def predict_split(model_dir: Path, data_path: Path, split: str, *, flip_average: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Probabilities (with the card's temperature), true label indices and label names for a split."""
    from emotion.classifier import EmotionClassifier

    clf = EmotionClassifier(model_dir)
    data = align_to_model(load_dataset(data_path, split=split, size=clf.input_size), clf.labels)
    return clf.predict(data.images, flip_average=flip_average, batch_size=256), data.labels, clf.labels


def format_report(result: Evaluation) -> str:
    lines = [f"n = {result.n}", f"accuracy  {result.accuracy:.4f}", f"macro F1  {result.macro_f1:.4f}",
             f"UAR       {result.uar:.4f}", f"ECE       {result.ece:.4f}", "",
             f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, m in result.per_class.items():
        lines.append(f"{name:<10}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>10d}")
    lines += ["", "confusion matrix (rows true, columns predicted): " + " ".join(result.labels)]
    lines += ["  " + " ".join(f"{v:>5d}" for v in row) for row in result.confusion_matrix]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from emotion.classifier import DEFAULT_MODEL_DIR

    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, type=Path, help="FER2013 CSV or class-per-folder directory")
    p.add_argument("--split", default="PrivateTest", help="FER2013 Usage value (default PrivateTest)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (model.keras + card.json)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="average with horizontally flipped faces (default: as the model card says)")
    p.add_argument("--output-dir", type=Path, default=Path("runs/evaluation"),
                   help="where the confusion-matrix and reliability PNGs go")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--pipeline", action="store_true",
                   help="also run every face through detect + align + crop in a synthetic 640x480 frame")
    p.add_argument("--crop-margin", type=float, help="pipeline crop margin (default: the model card's)")
    p.add_argument("--limit", type=int, help="pipeline: only the first N faces of the split")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run_evaluation(args.model, args.data, args.split, flip_average=args.flip,
                                output_dir=args.output_dir)
        pipeline = None
        if args.pipeline:
            from training.pipeline import run_pipeline_evaluation

            pipeline = run_pipeline_evaluation(args.model, args.data, args.split, limit=args.limit,
                                               crop_margin=args.crop_margin).to_dict()
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        extra = {"pipeline": pipeline} if pipeline else {}
        print(json.dumps({**result.to_dict(), "split": args.split, "flip_average": args.flip,
                          "model": str(args.model), **extra}))
    else:
        print(format_report(result))
        if pipeline:
            print("\npipeline (synthetic 640x480 frames, detect + align + crop): "
                  + ", ".join(f"{k} {v}" for k, v in pipeline.items()))
        print(f"\nplots in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
