"""Simulated truth is recovered by the report (120 vs 6 participants), and the simulated visitors end
in every way the study's funnel counts."""

from __future__ import annotations

import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from campaigns import report as report_cli
from campaigns.analysis import analyze
from campaigns.demo_study import study_setup
from campaigns.errors import CampaignError
from campaigns.report import load_study, report_json
from campaigns.simulate import SimulationConfig, VisitRates, main, simulate, true_values
from campaigns.store import Store
from campaigns.study import OUTCOMES
from campaigns.types import DEFAULT_LABELS, Verdict


def simulated_report(participants: int, seed: int) -> tuple[dict, dict]:  # type: ignore[type-arg]
    with Store.open() as store:
        truth = simulate(store, SimulationConfig(participants=participants, seed=seed))
        report = report_json(analyze(store.load(truth.campaign_id)), load_study(store, truth.campaign_id))
        assert store.campaign(truth.campaign_id).status == "live"
    return truth.to_json(), report


@pytest.fixture(scope="module")
def truth_run() -> tuple[dict, dict]:  # type: ignore[type-arg]
    return simulated_report(120, seed=1)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:  # type: ignore[type-arg]
    """``python -m campaigns.simulate --participants 120 --seed 11 --name big``, then the JSON report."""
    db = tmp_path_factory.mktemp("simulate") / "big.duckdb"
    truth_file, report_file = db.with_suffix(".truth.json"), db.with_suffix(".report.json")
    with truth_file.open("w", encoding="utf-8") as out, redirect_stdout(out):
        assert main(["--db", str(db), "--participants", "120", "--seed", "11", "--name", "big", "--json"]) == 0
    assert report_cli.main(["--db", str(db), "--campaign", "big", "--out", str(report_file)]) == 0
    return json.loads(truth_file.read_text()), json.loads(report_file.read_text()), db


def test_120_participants_recover_the_truth(truth_run) -> None:  # type: ignore[no-untyped-def]
    # One seed: a 95% interval misses the truth for about one seed in twenty.
    truth, report = truth_run
    for v in ("A", "B"):
        assert abs(report["variants"][v]["ratios"]["happy"] - truth["ratios"][v]["happy"]) < 0.03
    happy = report["comparisons"]["happy"]
    assert happy["ci_low"] <= truth["differences"]["happy"] <= happy["ci_high"]
    assert happy["verdict"] == Verdict.A_AHEAD
    valence = report["comparisons"]["valence"]
    assert valence["ci_low"] <= truth["differences"]["valence"] <= valence["ci_high"]
    assert valence["verdict"] == Verdict.A_AHEAD


def test_120_participants_design_properties(big) -> None:  # type: ignore[no-untyped-def]
    _, report, _ = big
    assert report["order_balance"]["AB"] == report["order_balance"]["BA"] == 60
    # Some participants abandon or have a poor camera: exclusions are counted, not hidden.
    assert report["variants"]["A"]["excluded"] + report["variants"]["B"]["excluded"] > 0
    assert 0.8 < report["variants"]["A"]["face_rate"] < 1.0
    assert report["comparisons"]["feedback"]["verdict"] == Verdict.A_AHEAD  # ratings follow emotions
    assert max(report["timeline"]["A"]["second"]) == 14


def test_120_visitors_end_in_every_way_and_the_funnel_adds_up(big) -> None:  # type: ignore[no-untyped-def]
    truth, report, db = big
    funnel = report["funnel"]
    for outcome in ("complete", "screened_out", "quota_full", "declined", "abandoned"):
        assert funnel[outcome] > 0, outcome
    with Store.open(db, read_only=True) as store:
        stored = store.table_counts()["participants"]
    # Every stored row counts once (declines too); withdrawals are counted though their rows are gone.
    assert sum(funnel.values()) == report["participants_total"] == stored + funnel["withdrew"]
    assert {k: funnel[k] for k in OUTCOMES} == truth["outcomes"] and funnel["in_progress"] == 0
    assert truth["visitors"] == report["participants_total"]
    assert sum(report["last_steps"].values()) == stored - funnel["complete"]
    assert report["last_steps"]["consent"] == funnel["declined"]
    assert report["last_steps"]["questions"] == funnel["screened_out"] + funnel["quota_full"]
    assert [q["key"] for q in report["questions"]] == ["gender", "age", "device", "apps"]
    assert {q["kind"] for q in report["questions"]} == {"single", "number", "multiple"}
    male = next(q for q in report["quotas"] if q["cell"] == "gender=Male")
    assert male["full"] and male["filled"] == male["target"]
    assert report["study"]["pid_param"] == "pid"
    assert report["study"]["redirects"]["complete"] == "https://panel.example/complete?pid={pid}"


def test_simulation_is_deterministic_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        with Store.open() as store:
            truth = simulate(store, SimulationConfig(participants=10, seed=4))
            data = store.load(truth.campaign_id)
            # Participant ids are random; their order of arrival (seq) is not.
            seq = data.participants.set_index("participant_id")["seq"]
            ratings = data.feedback.assign(seq=data.feedback["participant_id"].map(seq))
            answers = data.answers.assign(seq=data.answers["participant_id"].map(seq))
            runs.append((truth.outcomes, ratings.sort_values(["seq", "variant"])["rating"].tolist(),
                         answers.sort_values(["seq", "question", "answer"])["answer"].tolist(),
                         store.snapshot_count()))
    assert runs[0] == runs[1]


def test_answers_go_through_the_study_setup() -> None:
    with Store.open() as store:
        truth = simulate(store, SimulationConfig(participants=8, seed=2))
        assert store.study(truth.campaign_id) == study_setup(8)
        answers = store.load(truth.campaign_id).answers
    ages = answers.loc[answers["question"] == "age", "answer"].astype(float)
    assert ages.between(18, 65).all()  # the others were screened out and are not analysed
    assert set(answers.loc[answers["question"] == "gender", "answer"]) <= set(study_setup(8).questions[0].options)


def test_visit_rates_are_checked() -> None:
    with pytest.raises(CampaignError, match="decline"):
        VisitRates(decline=1.0)
    with pytest.raises(CampaignError, match="room for the ads"):
        VisitRates(no_camera=0.5, camera_abandon=0.5)


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
        order = analyze(store.load("Demo")).order
    assert order.ab + order.ba == 4  # participants counts those who went on to the ads
