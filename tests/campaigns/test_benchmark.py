"""The aggregation benchmark runs end to end on a small size and prints the issue's JSON keys."""

from __future__ import annotations

import json

import pytest

from benchmarks.aggregation import main


def test_benchmark_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--snapshots", "6000", "--participants", "30", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["snapshots", "duckdb_s", "pandas_s", "speedup", "ingest_rows_per_s"]
    assert result["snapshots"] == 6000
    assert result["duckdb_s"] > 0 and result["pandas_s"] > 0 and result["ingest_rows_per_s"] > 0
    assert result["speedup"] == pytest.approx(result["pandas_s"] / result["duckdb_s"], rel=0.01)


def test_benchmark_rejects_too_few_rows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--snapshots", "10", "--participants", "30"])
    assert "at least twice" in capsys.readouterr().err
