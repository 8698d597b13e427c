"""training/gpu_train.sh end to end on this machine: packed data in, trained runs out as tar parts."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

from emotion.card import ModelCard
from tests.conftest import ROOT
from tests.emotion.helpers import all_faces, read_grey
from tests.training.test_data import write_csv
from training.data import FER2013_LABELS
from training.fer_pack import pack

SCRIPT = ROOT / "training" / "gpu_train.sh"


def test_the_script_trains_each_named_run_and_returns_them_without_checkpoints(tmp_path: Path) -> None:
    rows = [(FER2013_LABELS.index(label), read_grey(path),
             ("Training", "Training", "PublicTest")[i % 3]) for i, (label, path) in enumerate(all_faces())]
    packed = pack(write_csv(tmp_path / "fer.csv", rows), tmp_path / "fer.xz")
    recipe = tmp_path / "tiny.toml"
    recipe.write_text('architecture = "simple_cnn"\nbatch_size = 16\nepochs = 1\n')
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "WORK": str(tmp_path / "work"), "PACKED": str(packed),
           "PYTHON": sys.executable, "NO_WHEELS": "1", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(["bash", str(SCRIPT), "tiny", f"--recipe {recipe} --seed 4"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:] + (out / "tiny.log").read_text()[-2000:]
    parts = sorted(out.glob("runs.tar.*"))
    assert parts and (out / "tiny.log").is_file()
    (tmp_path / "runs.tar").write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(tmp_path / "runs.tar") as tar:
        tar.extractall(tmp_path / "runs", filter="data")
        names = {Path(n).name for n in tar.getnames()}
    assert {"model.keras", "card.json", "history.csv"} <= names and "last.keras" not in names
    card = ModelCard.load(tmp_path / "runs" / "tiny")
    assert card.architecture == "simple_cnn" and card.recipe["seed"] == 4
    assert card.training_data["train"].endswith("fer2013.csv:Training")


def test_the_script_explains_its_arguments() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "lonely"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stdout
