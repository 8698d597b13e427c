"""Per-variant summary at a new threshold: DuckDB vs pandas, plus batched ingest rate.

``python -m benchmarks.aggregation [--snapshots N] [--json]`` builds N snapshot
rows across 1,000 participants through the Store API, then times the same
summary (participant-variant counts at a threshold + ``variant_summaries``)
computed by the store's DuckDB query and by an idiomatic pandas groupby over
the same rows, checking that both give identical counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from campaigns.analysis import variant_summaries
from campaigns.simulate import ad_image
from campaigns.snapshots import SnapshotBatch, batch_from_arrays
from campaigns.store import Store
from campaigns.types import Settings, VariantSummary, count_column

THRESHOLDS = (0.55, 0.5, 0.65)  # "new" thresholds, none of them the campaign default
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class BenchmarkResult:
    """Timings of one run (seconds are medians over THRESHOLDS)."""

    snapshots: int
    participants: int
    duckdb_s: float
    pandas_s: float
    ingest_rows_per_s: float

    @property
    def speedup(self) -> float:
        return self.pandas_s / self.duckdb_s

    def to_json(self) -> dict[str, float | int]:
        return {
            "snapshots": self.snapshots,
            "duckdb_s": round(self.duckdb_s, 6),
            "pandas_s": round(self.pandas_s, 6),
            "speedup": round(self.speedup, 2),
            "ingest_rows_per_s": round(self.ingest_rows_per_s),
        }


def snapshot_batches(
    rng: np.random.Generator, participant_ids: Sequence[str], total: int, n_labels: int, batch_rows: int
) -> Iterator[SnapshotBatch]:
    """Synthetic snapshots, ``total`` rows spread evenly over participants and both variants."""
    ids = np.asarray(participant_ids, dtype=object)
    per_participant = np.full(len(ids), total // len(ids))
    per_participant[: total % len(ids)] += 1
    owner = np.repeat(np.arange(len(ids)), per_participant)
    position = np.arange(total) - np.repeat(np.cumsum(per_participant) - per_participant, per_participant)
    half = np.repeat(per_participant // 2, per_participant)
    for start in range(0, total, batch_rows):
        rows = slice(start, min(start + batch_rows, total))
        n = rows.stop - rows.start
        pos, cut = position[rows], half[rows]
        variant = np.where(pos < cut, "A", "B").astype(object)
        face = rng.random(n) < 0.92
        raw = rng.random((n, n_labels)) ** 3
        probs = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
        probs[~face] = np.nan
        yield batch_from_arrays(
            participant_id=ids[owner[rows]],
            variant=variant,
            offset_ms=np.where(pos < cut, pos, pos - cut).astype(np.int64) * 1000,
            face_found=face,
            probabilities=probs,
            model_id="benchmark-model",
            face_ratio=np.where(face, rng.uniform(0.05, 0.3, n), np.nan),
            brightness=np.where(face, rng.uniform(60, 200, n), np.nan),
            sharpness=np.where(face, rng.uniform(20, 500, n), np.nan),
        )


def pandas_counts(frame: pd.DataFrame, labels: Sequence[str], threshold: float) -> pd.DataFrame:
    """The store's participant-variant counts, computed with a pandas groupby."""
    level = float(np.float32(threshold))
    face = frame["face_found"].to_numpy(dtype=bool)
    confident = face & (frame["top_probability"].to_numpy(dtype=np.float64, na_value=np.nan) >= level)
    top = frame["top_label"]
    columns = {
        "participant_id": frame["participant_id"],
        "variant": frame["variant"],
        "faces": face,
        "confident": confident,
    }
    columns |= {count_column(k): confident & (top == k).to_numpy(dtype=bool, na_value=False) for k in labels}
    work = pd.DataFrame(columns)
    grouped = work.groupby(["participant_id", "variant"], sort=True)
    counts = grouped.sum()
    counts.insert(0, "snapshots", grouped.size())
    return counts.reset_index()


Summary = tuple[pd.DataFrame, dict[str, VariantSummary]]


def _timed(function: Callable[[float], Summary]) -> tuple[float, list[Summary]]:
    """Median seconds over THRESHOLDS, and each result."""
    times, results = [], []
    for threshold in THRESHOLDS:
        start = time.perf_counter()
        results.append(function(threshold))
        times.append(time.perf_counter() - start)
    return statistics.median(times), results


def run_benchmark(store: Store, snapshots: int, participants: int = 1000, seed: int = 0) -> BenchmarkResult:
    """Fill ``store`` with one campaign of ``snapshots`` rows and time both engines."""
    rng = np.random.default_rng(seed)
    campaign = store.create_campaign(f"benchmark {snapshots} rows", settings=Settings())
    image = ad_image("A", (90, 90, 90))
    store.set_variant(campaign, "A", image)
    store.set_variant(campaign, "B", image)
    store.go_live(campaign)
    ids = [store.add_participant(campaign, "benchmark").id for _ in range(participants)]
    for pid in ids:
        for variant in ("A", "B"):
            store.add_feedback(pid, variant, int(rng.integers(1, 6)))
    labels = campaign.labels
    batches = list(snapshot_batches(rng, ids, snapshots, len(labels), BATCH_ROWS))
    start = time.perf_counter()
    for batch in batches:
        store.add_snapshots(batch)
    ingest = snapshots / (time.perf_counter() - start)
    base = store.load(campaign)

    def duckdb_summary(threshold: float) -> Summary:
        counts = store.participant_variant_counts(campaign, threshold)
        return counts, variant_summaries(replace(base, counts=counts, threshold=threshold))

    frame = store.snapshot_frame(campaign)

    def pandas_summary(threshold: float) -> Summary:
        counts = pandas_counts(frame, labels, threshold)
        return counts, variant_summaries(replace(base, counts=counts, threshold=threshold))

    duck_s, duck_results = _timed(duckdb_summary)
    pandas_s, pandas_results = _timed(pandas_summary)
    for ours, theirs in zip(duck_results, pandas_results, strict=True):
        _check_same(ours, theirs)
    return BenchmarkResult(snapshots, participants, duck_s, pandas_s, ingest)


def _check_same(ours: Summary, theirs: Summary) -> None:
    """Both engines must agree exactly before their timings mean anything."""
    a, b = (
        frame.sort_values(["participant_id", "variant"]).reset_index(drop=True)
        for frame in (ours[0], theirs[0])
    )
    pd.testing.assert_frame_equal(
        a.astype({c: "int64" for c in a.columns[2:]}),
        b[a.columns].astype({c: "int64" for c in a.columns[2:]}),
        check_dtype=False,
    )
    for v, summary in ours[1].items():
        if summary != theirs[1][v]:
            raise AssertionError(f"DuckDB and pandas summaries differ for variant {v}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.aggregation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--snapshots", type=int, default=5_000_000)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=None, help="DuckDB file (default: a temporary file)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.snapshots < 2 * args.participants:
        parser.error("--snapshots must be at least twice --participants")
    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "benchmark.duckdb"
        with Store.open(path) as store:
            result = run_benchmark(store, args.snapshots, args.participants)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(
            f"{result.snapshots:,} snapshots, {result.participants:,} participants\n"
            f"summary at a new threshold: DuckDB {result.duckdb_s:.3f} s, pandas {result.pandas_s:.3f} s "
            f"({result.speedup:.1f}x)\nbatched ingest: {result.ingest_rows_per_s:,.0f} rows/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
