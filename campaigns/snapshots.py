"""Columnar snapshot batches and their validation (pure, no database).

The inference worker hands the store many snapshots at once; keeping them as
numpy columns lets the store validate a batch with vectorised checks and
append it through Arrow in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from campaigns.errors import SnapshotError
from campaigns.types import VARIANTS, SnapshotRow

# Softmax outputs in float32 sum to 1 within ~1e-6; a vector further off than
# this was not produced by the campaign's classifier.
PROBABILITY_SUM_TOLERANCE = 1e-3
MAX_OFFSET_MS = 24 * 3600 * 1000

_COLUMNS = ("participant_id", "variant", "offset_ms", "face_found", "probabilities", "model_id")
_QUALITY = ("face_ratio", "brightness", "sharpness")


@dataclass(frozen=True, eq=False)
class SnapshotBatch:
    """Snapshots as aligned numpy columns; ``probabilities`` is (n, labels).

    Rows without a face hold NaN probabilities; quality measures use NaN for
    "not measured". Build one with :meth:`from_rows` or :meth:`from_frame`.
    """

    participant_id: np.ndarray
    variant: np.ndarray
    offset_ms: np.ndarray
    face_found: np.ndarray
    probabilities: np.ndarray
    model_id: np.ndarray
    face_ratio: np.ndarray
    brightness: np.ndarray
    sharpness: np.ndarray

    def __len__(self) -> int:
        return int(self.participant_id.shape[0])

    @property
    def width(self) -> int:
        """Number of probabilities per face row (0 when the batch has no face)."""
        return int(self.probabilities.shape[1])

    @classmethod
    def from_rows(cls, rows: Sequence[SnapshotRow | Mapping[str, Any]]) -> SnapshotBatch:
        """Build a batch from SnapshotRow objects or dicts with the same keys."""
        records = [_row_dict(row, i) for i, row in enumerate(rows)]
        return cls.from_frame(pd.DataFrame.from_records(records, columns=[*_COLUMNS, *_QUALITY]))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> SnapshotBatch:
        """Build a batch from a DataFrame; ``probabilities`` holds list-likes or None."""
        missing = [c for c in _COLUMNS if c not in frame.columns]
        if missing:
            raise SnapshotError(f"snapshot batch is missing column(s): {', '.join(missing)}")
        n = len(frame)
        face = _bool_column(frame["face_found"])
        probs = _probability_matrix(frame["probabilities"], face)
        quality = {
            name: (
                pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                if name in frame.columns
                else np.full(n, np.nan)
            )
            for name in _QUALITY
        }
        offsets = pd.to_numeric(frame["offset_ms"], errors="coerce")
        if offsets.isna().any() or not np.all(np.mod(offsets.to_numpy(dtype=np.float64), 1) == 0):
            first = int(np.flatnonzero(offsets.isna() | (np.mod(offsets.fillna(0.5), 1) != 0))[0])
            raise SnapshotError(f"snapshot row {first}: offset_ms must be a whole number of milliseconds")
        return cls(
            participant_id=frame["participant_id"].to_numpy(dtype=object),
            variant=frame["variant"].to_numpy(dtype=object),
            offset_ms=offsets.to_numpy(dtype=np.int64),
            face_found=face,
            probabilities=probs,
            model_id=frame["model_id"].to_numpy(dtype=object),
            face_ratio=quality["face_ratio"],
            brightness=quality["brightness"],
            sharpness=quality["sharpness"],
        )


def batch_from_arrays(
    participant_id: Any,
    variant: Any,
    offset_ms: Any,
    face_found: Any,
    probabilities: Any,
    model_id: Any,
    face_ratio: Any = None,
    brightness: Any = None,
    sharpness: Any = None,
) -> SnapshotBatch:
    """Build a batch from array-likes (the fast path for large batches).

    ``probabilities`` is an (n, labels) array with NaN rows where no face was
    found; scalars for variant/model_id/participant_id are broadcast.
    """
    face = np.asarray(face_found)
    if face.dtype != bool or face.ndim != 1:
        raise SnapshotError("face_found must be a one-dimensional array of true/false")
    n = face.shape[0]

    def column(value: Any, name: str, dtype: Any) -> np.ndarray:
        array = np.asarray(value, dtype=dtype)
        if array.ndim == 0:
            array = np.full(n, array.item(), dtype=dtype)
        if array.shape != (n,):
            raise SnapshotError(f"{name} has {array.shape[0] if array.ndim else 1} values, expected {n}")
        return array

    def quality(value: Any, name: str) -> np.ndarray:
        return np.full(n, np.nan) if value is None else column(value, name, np.float64)

    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.ndim != 2 or probs.shape[0] != n:
        raise SnapshotError(f"probabilities must be an array of shape ({n}, labels), got {probs.shape}")
    if np.isfinite(probs[~face]).any():
        first = int(np.flatnonzero(~face & np.isfinite(probs).any(axis=1))[0])
        raise SnapshotError(f"snapshot row {first}: no face was found but probabilities were given")
    offsets = np.asarray(offset_ms)
    if offsets.dtype.kind not in "iu":
        raise SnapshotError("offset_ms must be whole numbers of milliseconds")
    return SnapshotBatch(
        participant_id=column(participant_id, "participant_id", object),
        variant=column(variant, "variant", object),
        offset_ms=column(offsets, "offset_ms", np.int64),
        face_found=face,
        probabilities=probs,
        model_id=column(model_id, "model_id", object),
        face_ratio=quality(face_ratio, "face_ratio"),
        brightness=quality(brightness, "brightness"),
        sharpness=quality(sharpness, "sharpness"),
    )


def _row_dict(row: SnapshotRow | Mapping[str, Any], index: int) -> dict[str, Any]:
    if isinstance(row, SnapshotRow):
        return {name: getattr(row, name) for name in (*_COLUMNS, *_QUALITY)}
    if isinstance(row, Mapping):
        return {name: row.get(name) for name in (*_COLUMNS, *_QUALITY)}
    raise SnapshotError(f"snapshot row {index} must be a SnapshotRow or a mapping, got {type(row).__name__}")


def _bool_column(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype) and not column.isna().any():
        return column.to_numpy(dtype=bool)
    values = column.to_numpy(dtype=object)
    bad = [i for i, v in enumerate(values) if not isinstance(v, bool | np.bool_)]
    if bad:
        raise SnapshotError(
            f"snapshot row {bad[0]}: face_found must be true or false, got {values[bad[0]]!r}"
        )
    return values.astype(bool)


def _probability_matrix(column: pd.Series, face: np.ndarray) -> np.ndarray:
    values = column.to_numpy(dtype=object)
    for i in np.flatnonzero(~face):
        if values[i] is not None and not (np.isscalar(values[i]) and pd.isna(values[i])):
            raise SnapshotError(f"snapshot row {int(i)}: no face was found but probabilities were given")
    face_rows = np.flatnonzero(face)
    width = 0
    if face_rows.size:
        lengths = {_length(values[i], int(i)) for i in face_rows}
        if len(lengths) > 1:
            raise SnapshotError(f"snapshot batch mixes probability vectors of lengths {sorted(lengths)}")
        width = lengths.pop()
    matrix = np.full((len(values), width), np.nan, dtype=np.float32)
    if face_rows.size:
        try:
            matrix[face_rows] = np.asarray([values[i] for i in face_rows], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise SnapshotError(f"snapshot probabilities must be numbers: {exc}") from exc
    return matrix


def _length(value: Any, index: int) -> int:
    if value is None or np.isscalar(value):
        raise SnapshotError(f"snapshot row {index}: a face was found but no probabilities were given")
    return len(value)


def _first_bad(mask: np.ndarray, message: str) -> None:
    bad = np.flatnonzero(mask)
    if bad.size:
        raise SnapshotError(f"snapshot row {int(bad[0])}: {message} ({bad.size} bad row(s) in the batch)")


def validate_batch(batch: SnapshotBatch) -> None:
    """Check everything that does not need the database; raise SnapshotError."""
    if len(batch) == 0:
        return
    _first_bad(~np.isin(batch.variant, VARIANTS), "variant must be 'A' or 'B'")
    _first_bad((batch.offset_ms < 0) | (batch.offset_ms > MAX_OFFSET_MS), "offset_ms must be 0..86,400,000")
    for name, column in (("model_id", batch.model_id), ("participant_id", batch.participant_id)):
        # Check the few distinct values, not millions of rows.
        bad_values = [v for v in pd.unique(column) if not isinstance(v, str) or not v]
        if bad_values:
            _first_bad(pd.Series(column).isin(bad_values).to_numpy(), f"{name} must be a non-empty text")
    ratio, bright, sharp = batch.face_ratio, batch.brightness, batch.sharpness
    _first_bad(~np.isnan(ratio) & ((ratio < 0) | (ratio > 1)), "face_ratio must be within 0..1")
    _first_bad(~np.isnan(bright) & ((bright < 0) | (bright > 255)), "brightness must be within 0..255")
    _first_bad(~np.isnan(sharp) & (sharp < 0), "sharpness must not be negative")
    _first_bad(np.isinf(ratio) | np.isinf(bright) | np.isinf(sharp), "quality measures must be finite")
    probs = batch.probabilities[batch.face_found]
    if probs.size:
        rows = np.flatnonzero(batch.face_found)
        bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | (probs > 1).any(axis=1)
        _first_bad(_spread(bad, rows, len(batch)), "probabilities must be finite numbers within 0..1")
        sums = probs.astype(np.float64).sum(axis=1)
        off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE
        if off.any():
            first = int(np.flatnonzero(off)[0])
            raise SnapshotError(
                f"snapshot row {int(rows[first])}: probabilities sum to {sums[first]:.4f}, not 1 "
                f"(±{PROBABILITY_SUM_TOLERANCE}); {int(off.sum())} bad row(s) in the batch"
            )


def _spread(mask: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros(n, dtype=bool)
    full[rows[mask]] = True
    return full


def top_indices(batch: SnapshotBatch) -> tuple[np.ndarray, np.ndarray]:
    """Index of the top label (-1 without a face) and top probability (NaN) per row."""
    n = len(batch)
    top_index = np.full(n, -1, dtype=np.int16)
    top_prob = np.full(n, np.nan)
    face = batch.face_found
    if face.any():
        probs = batch.probabilities[face]
        index = probs.argmax(axis=1)
        top_index[face] = index
        top_prob[face] = probs[np.arange(probs.shape[0]), index].astype(np.float64)
    return top_index, top_prob


def to_arrow(
    batch: SnapshotBatch,
    campaign_id: np.ndarray,
    top_label: np.ndarray,
    top_index: np.ndarray,
    top_prob: np.ndarray,
) -> pa.Table:
    """Arrow table in the snapshots table's column order (no stored_at)."""
    face = batch.face_found
    lengths = np.where(face, batch.width, 0).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)
    values = pa.array(batch.probabilities[face].ravel(), type=pa.float32())
    probs = pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~face))

    def nullable(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=np.isnan(values), type=pa.float64())

    return pa.table(
        {
            "campaign_id": pa.array(campaign_id, type=pa.int32()),
            "participant_id": pa.array(batch.participant_id, type=pa.string()),
            "variant": pa.array(batch.variant, type=pa.string()),
            "offset_ms": pa.array(batch.offset_ms, type=pa.int64()),
            "face_found": pa.array(face, type=pa.bool_()),
            "face_ratio": nullable(batch.face_ratio),
            "brightness": nullable(batch.brightness),
            "sharpness": nullable(batch.sharpness),
            "probabilities": probs,
            "top_label": pa.array(top_label, type=pa.string()),
            "top_index": pa.array(np.maximum(top_index, 0).astype(np.uint8), mask=top_index < 0),
            "top_probability": nullable(top_prob),
            "model_id": pa.array(batch.model_id, type=pa.string()),
        }
    )
