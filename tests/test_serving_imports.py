"""The app serves without training code: no serving module imports ``training`` (or the benchmarks).

Serving is every package and module of the repository except ``training``, ``benchmarks`` and
``tests``: the app's entry point and pages, its state and configuration, ``ui``, ``capture``,
``campaigns``, ``emotion`` and whatever else joins them. Two checks: the source of every
serving file names no training module in any import (a lazy import inside a function included),
and a fresh interpreter that imports every serving module and scores a face as the app does
has loaded none. Keras' own training modules are not checked: importing TensorFlow, which the
TFLite interpreter needs, loads all of Keras with it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import FER_FACES, ROOT

#: Top-level packages the app must never load.
NOT_SERVING = ("training", "benchmarks", "tests")
#: Scripts Streamlit runs (importing them would render a page): checked from their source only.
SCRIPTS = ("app.py", "pages")


def serving_files() -> list[Path]:
    files = []
    for path in sorted(ROOT.iterdir()):
        if path.suffix == ".py":
            files.append(path)
        elif path.is_dir() and ((path / "__init__.py").is_file() or path.name == "pages") \
                and path.name not in NOT_SERVING:
            files += sorted(path.rglob("*.py"))
    return files


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def is_forbidden(name: str) -> bool:
    return name.split(".")[0] in NOT_SERVING


def test_no_serving_source_imports_training_code() -> None:
    files = serving_files()
    found = {f.relative_to(ROOT).as_posix() for f in files}
    assert {"app.py", "app_state.py", "emotion/classifier.py", "pages/participate.py"} <= found
    assert any(name.startswith("ui/") for name in found) and any(name.startswith("capture/") for name in found)
    assert not any(name.startswith(("training/", "benchmarks/")) for name in found)
    offending = {f.relative_to(ROOT).as_posix(): sorted(n for n in imported_names(f) if is_forbidden(n))
                 for f in files}
    assert not {f: names for f, names in offending.items() if names}


PROBE = """
import importlib, json, pathlib, sys
import pylibsrtp  # noqa: F401  before TensorFlow, as app_state does (aiortc's SRTP binding)
import cv2, numpy as np

modules = json.loads(sys.argv[1])
for name in modules:
    importlib.import_module(name)
from emotion.classifier import EmotionClassifier

frame = np.full((480, 640, 3), 120, np.uint8)
face = cv2.resize(cv2.imread(sys.argv[2], cv2.IMREAD_GRAYSCALE), (220, 220))
frame[130:350, 210:430] = face[:, :, None]
faces = EmotionClassifier().analyze(frame)
print(json.dumps({"faces": len(faces), "loaded": sorted(sys.modules)}))
"""


def test_the_serving_path_loads_no_training_module() -> None:
    modules = []
    for path in serving_files():
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] in SCRIPTS or path.name in SCRIPTS:
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert {"app_state", "ui.model_view", "capture.worker", "campaigns.analysis", "emotion.classifier"} <= set(
        modules)
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(modules), str(FER_FACES / "happy" / "05667.png")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["faces"] == 1  # the probe really went through detection and the classifier
    assert [name for name in result["loaded"] if is_forbidden(name)] == []
