"""Simulated truth is recovered by the report (120 vs 6 participants)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campaigns.analysis import analyze
from campaigns.report import report_json
from campaigns.simulate import SimulationConfig, main, simulate, true_values
from campaigns.store import Store
from campaigns.types import DEFAULT_LABELS, Verdict


def simulated_report(participants: int, seed: int) -> tuple[dict, dict]:  # type: ignore[type-arg]
    with Store.open() as store:
        truth = simulate(store, SimulationConfig(participants=participants, seed=seed))
        report = report_json(analyze(store.load(truth.campaign_id)))
        assert store.campaign(truth.campaign_id).status == "live"
    return truth.to_json(), report


@pytest.fixture(scope="module")
def big() -> tuple[dict, dict]:  # type: ignore[type-arg]
    return simulated_report(120, seed=0)


def test_120_participants_recover_the_truth(big) -> None:  # type: ignore[no-untyped-def]
    truth, report = big
    for v in ("A", "B"):
        assert abs(report["variants"][v]["ratios"]["happy"] - truth["ratios"][v]["happy"]) < 0.03
    happy = report["comparisons"]["happy"]
    assert happy["ci_low"] <= truth["differences"]["happy"] <= happy["ci_high"]
    assert happy["verdict"] == Verdict.A_AHEAD
    valence = report["comparisons"]["valence"]
    assert valence["ci_low"] <= truth["differences"]["valence"] <= valence["ci_high"]
    assert valence["verdict"] == Verdict.A_AHEAD


def test_120_participants_design_properties(big) -> None:  # type: ignore[no-untyped-def]
    _, report = big
    assert report["order_balance"]["AB"] == report["order_balance"]["BA"] == 60
    # Some participants abandon or have a poor camera: exclusions are counted, not hidden.
    assert report["variants"]["A"]["excluded"] + report["variants"]["B"]["excluded"] > 0
    assert 0.8 < report["variants"]["A"]["face_rate"] < 1.0
    assert report["comparisons"]["feedback"]["verdict"] == Verdict.A_AHEAD  # ratings follow emotions
    assert max(report["timeline"]["A"]["second"]) == 14


def test_6_participants_are_not_enough(tmp_path: Path) -> None:
    _, report = simulated_report(6, seed=1)
    assert {c["verdict"] for c in report["comparisons"].values()} == {Verdict.NOT_ENOUGH_DATA}


def test_truth_is_the_expected_pooled_ratio() -> None:
    config = SimulationConfig()
    ratios, valence = true_values(config)
    seen = (1 - config.no_face_rate) * config.confident_rate
    assert ratios["A"]["happy"] == pytest.approx(seen * 0.45)
    assert sum(ratios["B"].values()) == pytest.approx(seen)
    assert valence["A"] == pytest.approx(seen * (0.45 - 0.03 - 0.02 - 0.03 - 0.07))


def test_cli_prints_truth_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.duckdb"
    assert main(["--db", str(db), "--participants", "4", "--seed", "3", "--name", "Demo", "--json"]) == 0
    truth = json.loads(capsys.readouterr().out)
    assert set(truth["ratios"]) == {"A", "B"} and list(truth["ratios"]["A"]) == list(DEFAULT_LABELS)
    assert truth["differences"]["happy"] == pytest.approx(
        truth["ratios"]["A"]["happy"] - truth["ratios"]["B"]["happy"]
    )
    assert main(["--db", str(db), "--participants", "4", "--name", "Demo"]) == 2  # name taken
    assert "'Demo' already exists" in capsys.readouterr().err
    with Store.open(db, read_only=True) as store:
        assert len(store.load("Demo").participants) == 4
