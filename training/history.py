"""A run's per-epoch record: ``history.csv`` (written by Keras' CSVLogger) and its curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"


def read_history(path: Path) -> dict[str, list[float]]:
    """Each column of a run's history file, by name; empty before the first epoch."""
    if not path.is_file():
        return {}
    import pandas as pd

    frame = pd.read_csv(path)
    return {str(c): frame[c].astype(float).tolist() for c in frame.columns}


def best_value(history: dict[str, list[float]], monitor: str) -> float | None:
    """The best value of ``monitor`` so far (for a resumed run's checkpoint), or None."""
    values = history.get(monitor)
    if not values:
        return None
    return min(values) if monitor == "val_loss" else max(values)


def plot_curves(history: dict[str, list[float]], path: Path, *, title: str = "") -> Path:
    """Accuracy and loss per epoch, train vs validation, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=False):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(epochs, values, style, label=("validation " if prefix else "train ") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
