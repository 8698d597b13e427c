"""Move FER2013's Training and PublicTest splits to a GPU machine in one small file.

The lent GPU machines take at most 64 MiB of working tree per call and cannot
reach ``../shared``. The gzipped CSV is 97 MB; this packs the two splits that
training reads (never PrivateTest, which stays here for the one final report)
losslessly into about 58 MB: the pixels as a uint8 array, compressed by xz
with a delta filter across image rows (each byte minus the pixel above it).

    python -m training.fer_pack pack --data ../shared/datasets/fer2013/fer2013.csv.gz --out .gpu/fer.xz
    python -m training.fer_pack unpack --packed .gpu/fer.xz --out /tmp/fer2013.csv   # on the GPU machine

``unpack`` writes an ordinary FER2013 CSV (``emotion,pixels,Usage``), so
training there reads the data through the same loader as here.
"""

from __future__ import annotations

import argparse
import io
import lzma
import sys
from pathlib import Path

import numpy as np

from training.data import FER2013_LABELS, FER2013_SIZE, load_fer2013

SPLITS = ("Training", "PublicTest")
FILTERS = [{"id": lzma.FILTER_DELTA, "dist": FER2013_SIZE}, {"id": lzma.FILTER_LZMA2, "preset": 9}]


def pack(data: Path, out: Path) -> Path:
    parts = [load_fer2013(data, split) for split in SPLITS]
    buffer = io.BytesIO()
    np.savez(buffer,
             pixels=np.concatenate([p.images for p in parts]),
             emotion=np.concatenate([p.labels for p in parts]).astype(np.int8),
             usage=np.concatenate([np.full(len(p), i, np.int8) for i, p in enumerate(parts)]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=FILTERS))
    return out


def unpack(packed: Path, out: Path) -> Path:
    arrays = np.load(io.BytesIO(lzma.decompress(packed.read_bytes())))
    pixels, emotion, usage = arrays["pixels"], arrays["emotion"], arrays["usage"]
    if pixels.shape[1:] != (FER2013_SIZE, FER2013_SIZE) or emotion.max() >= len(FER2013_LABELS):
        raise ValueError(f"{packed} does not hold FER2013 faces")
    with out.open("w") as f:
        f.write("emotion,pixels,Usage\n")
        for face, label, split in zip(pixels.reshape(len(pixels), -1), emotion, usage, strict=True):
            f.write(f"{label},{' '.join(map(str, face.tolist()))},{SPLITS[split]}\n")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.fer_pack", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("pack")
    a.add_argument("--data", required=True, type=Path)
    a.add_argument("--out", required=True, type=Path)
    b = sub.add_parser("unpack")
    b.add_argument("--packed", required=True, type=Path)
    b.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    try:
        path = pack(args.data, args.out) if args.command == "pack" else unpack(args.packed, args.out)
    except (ValueError, OSError, lzma.LZMAError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
