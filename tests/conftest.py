"""Shared test paths. Data and weights in ../shared are optional: tests that need
them skip with a reason where they are absent (a fresh clone without shared/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# aiortc's SRTP binding segfaults when first imported after TensorFlow (clashing crypto
# symbols); import it before any test can load TensorFlow (app_state does the same for the app).
import pylibsrtp  # noqa: F401
import pytest

from app_config import load_config

# Quiet TensorFlow's C++ start-up banner in test output (tests only; the product sets nothing).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FER_CSV = SHARED / "datasets" / "fer2013" / "fer2013.csv.gz"
MOBILENET_WEIGHTS = SHARED / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FER_FACES = FIXTURES / "fer_faces"


@pytest.fixture(autouse=True)
def fresh_app_config() -> Iterator[None]:
    """Each test reads the app's settings afresh: tests set the environment and secrets the app reads
    once per process (``app_config.load_config``)."""
    load_config.cache_clear()
    yield
    load_config.cache_clear()


def require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (it lives in ../shared beside the project)")
    return path


@pytest.fixture(scope="session")
def fer_csv() -> Path:
    return require(FER_CSV, "the FER2013 dataset")


@pytest.fixture(scope="session")
def mobilenet_weights() -> Path:
    return require(MOBILENET_WEIGHTS, "the MobileNetV2 ImageNet weights")
