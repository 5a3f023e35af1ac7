"""The capture options of ``mlcli run``: what a sweep passes on to its trials."""

from __future__ import annotations

from pathlib import Path

import pytest
from capturehelpers import runs_in

from mlcli.projects.capture import CaptureOptions


def test_the_defaults_need_no_arguments() -> None:
    assert CaptureOptions().arguments() == []


def test_choices_become_the_options_that_ask_for_them() -> None:
    options = CaptureOptions(("a=(?P<a>\\S+)",), False, None)
    assert options.arguments() == [
        "--output-scalars",
        "a=(?P<a>\\S+)",
        "--no-output-scalars",
        "--no-system-metrics",
    ]
    assert CaptureOptions(system_metrics_interval=2.5).arguments() == [
        "--system-metrics-interval",
        "2.5",
    ]


@pytest.mark.slow
def test_a_sweeps_trials_capture_as_asked(cli, store_root: Path, make_project) -> None:
    project = make_project({"train.py": "import sys\nprint('score', sys.argv[-1])\n"})
    result = cli(
        "run", str(project), "-e", "train.py", "--env-manager", "local", "-P", "x=[1,2]",
        "--output-scalars", r"score (?P<score>\S+)", "--no-system-metrics", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    trials = [r for r in runs_in(store_root) if "mlcli.parentRunId" in r.data.tags]
    assert sorted(r.data.metrics["score"] for r in trials) == [1.0, 2.0]
