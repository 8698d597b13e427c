"""The detector benchmark runs on a few PrivateTest faces and reports every setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.detector import SETTINGS
from tests.conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.detector", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_detector_benchmark_reports_found_and_invented_faces(fer_csv: Path) -> None:
    out = run("--data", str(fer_csv), "--faces", "12", "--faceless", "6", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["faces"], result["faceless_frames"]) == (12, 6)
    assert list(result["settings"]) == list(SETTINGS)
    for row in result["settings"].values():
        assert 0 <= row["found_rate"] <= 1 and 0 <= row["invented_rate"] <= 1 and row["ms_per_frame_p50"] > 0
    # Real FER2013 faces: the shipped settings find most of them.
    assert result["settings"]["shipped"]["found_rate"] >= 0.5
    # The fallback only looks where the cascade found nothing: it can add faces, never lose one.
    assert result["settings"]["shipped"]["found_rate"] >= result["settings"]["Haar alone"]["found_rate"]


def test_detector_benchmark_bad_arguments_are_clear_errors(tmp_path: Path, fer_csv: Path) -> None:
    missing = run("--data", str(tmp_path / "nope.csv.gz"))
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    empty = run("--data", str(fer_csv), "--faces", "0")
    assert empty.returncode == 2 and "must be at least 1" in empty.stderr and "Traceback" not in empty.stderr
    not_fer = tmp_path / "sales.csv"
    not_fer.write_text("region,revenue\nnorth,3\n")
    wrong = run("--data", str(not_fer))
    assert wrong.returncode == 2 and "lacks the FER2013 columns" in wrong.stderr and "Traceback" not in wrong.stderr
