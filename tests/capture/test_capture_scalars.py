"""Output scalars: which lines are metrics, steps, custom patterns, and the real thing:
an entry point that only prints gets a metric history from ``mlcli run``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from capturehelpers import history, only_run

from mlcli.capture.scalar_stream import ScalarStream
from mlcli.capture.scalars import compile_patterns, outputs_section, parse_output
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient


def user_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.startswith("system/")}


def pairs(text: str, patterns=None) -> list[tuple[str, float, int]]:
    found = parse_output(text) if patterns is None else parse_output(text, patterns)
    return [(s.key, s.value, s.step) for s in found]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("loss: 0.5", [("loss", 0.5, 0)]),
        ("loss=0.5", [("loss", 0.5, 0)]),
        ("  val/loss = -1.5e-3  ", [("val/loss", -0.0015, 0)]),
        ("loss: 0.25, acc: 0.9", [("loss", 0.25, 0), ("acc", 0.9, 0)]),
        ("loss=1 | acc=2; f1=3", [("loss", 1.0, 0), ("acc", 2.0, 0), ("f1", 3.0, 0)]),
        ("step=7 loss=0.1", [("loss", 0.1, 7)]),
    ],
)
def test_lines_made_of_pairs_are_scalars(line: str, expected: list) -> None:
    assert pairs(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Epoch 1/3 - loss: 0.5",  # prose around the pair
        "acc: 95%",
        "time: 12:30",
        "version: 1.2.3",
        "a=1b=2",
        "loss: abc",
        "http://host:8080",
        "",
    ],
)
def test_other_lines_are_output(line: str) -> None:
    assert pairs(line) == []


def test_nan_and_inf_are_kept() -> None:
    (loss, gain) = parse_output("loss: nan\ngain: -inf")
    assert math.isnan(loss.value) and gain.value == -math.inf


def test_without_a_step_each_key_counts_its_own_values() -> None:
    text = "loss: 1\nacc: 0.5\nloss: 0.5\nloss: 0.25\n"
    assert pairs(text) == [("loss", 1.0, 0), ("acc", 0.5, 0), ("loss", 0.5, 1), ("loss", 0.25, 2)]


def test_a_step_holds_for_the_lines_after_it() -> None:
    text = "step: 10\nloss: 1\nstep: 20\nloss: 0.5\nacc: 0.9\n"
    assert pairs(text) == [("loss", 1.0, 10), ("loss", 0.5, 20), ("acc", 0.9, 20)]


def test_carriage_returns_end_lines_as_on_a_terminal() -> None:
    assert pairs("loss: 3\rloss: 2\r\nloss: 1") == [
        ("loss", 3.0, 0),
        ("loss", 2.0, 1),
        ("loss", 1.0, 2),
    ]


def test_custom_patterns_with_named_groups_and_shorthands() -> None:
    patterns = compile_patterns(
        [r"^Epoch (?P<step>\d+)", r"val_loss=(?P<val_loss>\S+)", r"\key -> \value"]
    )
    text = "Epoch 3\ntrain ... val_loss=0.2 done\nacc -> 0.9\nloss: 5\n"
    # the default pattern is replaced: "loss: 5" is no longer a scalar
    assert pairs(text, patterns) == [("val_loss", 0.2, 3), ("acc", 0.9, 3)]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("loss=(", "invalid pattern"),
        (r"loss=\S+", "needs named groups"),
        (r"(?P<key>\w+)=\S+", "needs named groups"),  # key without value
    ],
)
def test_bad_custom_patterns_are_usage_errors(source: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        compile_patterns([source])


def test_the_mlproject_outputs_section() -> None:
    assert outputs_section(None, "MLproject") is None
    assert outputs_section({"scalars": False}, "MLproject") is False
    patterns = outputs_section({"scalars": [r"acc (?P<acc>\S+)"]}, "MLproject")
    assert pairs("acc 0.5", patterns) == [("acc", 0.5, 0)]
    with pytest.raises(InvalidInputError, match="unknown key"):
        outputs_section({"scalar": []}, "MLproject")
    with pytest.raises(InvalidInputError, match="list of regular expressions"):
        outputs_section({"scalars": 3}, "MLproject")


def test_the_stream_logs_lines_split_across_chunks(store_root: Path) -> None:
    client = TrackingClient(store_root)
    run = client.create_run()
    stream = ScalarStream(client.store.runs, run.info.run_id, compile_patterns([r"\key=\value"]))
    for chunk in (b"lo", b"ss=0.", b"5\nnot a metric\nloss=0", b".25\nacc", b"=1"):
        stream.feed(chunk)
    assert stream.close() == 3  # the unterminated last line counts at the end
    assert history(store_root, client.get_run(run.info.run_id), "loss") == [(0, 0.5), (1, 0.25)]
    assert history(store_root, client.get_run(run.info.run_id), "acc") == [(0, 1.0)]


# -- mlcli run, for real -------------------------------------------------------------------

TRAIN = """
import sys
for epoch in range(4):
    print(f"loss: {1 / (epoch + 1)}")
print("Epoch 4/4 - done: 1")
print("accuracy=0.75")
"""


@pytest.mark.slow
def test_an_entry_point_that_only_prints_gets_a_metric_history(
    cli, store_root: Path, make_project
) -> None:
    project = make_project({"train.py": TRAIN})
    result = cli("run", str(project), "-e", "train.py", "--env-manager", "local")
    assert result.exit_code == 0, result.stderr
    assert "loss: 0.5" in result.stdout  # the output is still shown as it was
    run = only_run(store_root)
    assert history(store_root, run, "loss") == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25)]
    assert history(store_root, run, "accuracy") == [(0, 0.75)]
    assert "done" not in run.data.metrics


@pytest.mark.slow
def test_output_scalars_from_the_mlproject_and_the_command_line(
    cli, store_root: Path, make_project
) -> None:
    project = make_project(
        {
            "MLproject": r"""
                entry_points:
                  main:
                    command: "python train.py"
                outputs:
                  scalars: ['^Epoch (?P<step>\d+)', 'val_loss=(?P<val_loss>\S+)']
            """,
            "train.py": "print('Epoch 2')\nprint('x val_loss=0.5 y')\nprint('loss: 9')\n",
        }
    )
    assert cli("run", str(project), "--env-manager", "local", "-q").exit_code == 0
    run = only_run(store_root)
    assert history(store_root, run, "val_loss") == [(2, 0.5)]
    assert "loss" not in run.data.metrics

    result = cli(
        "run", str(project), "--env-manager", "local", "-q", "--output-scalars", r"\key: \value"
    )
    assert result.exit_code == 0, result.stderr
    second = TrackingClient(store_root).get_run(result.stdout.strip())
    assert user_metrics(second.data.metrics) == {"loss": 9.0}

    result = cli("run", str(project), "--env-manager", "local", "-q", "--no-output-scalars")
    third = TrackingClient(store_root).get_run(result.stdout.strip())
    assert user_metrics(third.data.metrics) == {}


def test_a_bad_pattern_is_refused_before_any_run_exists(
    cli, store_root: Path, make_project
) -> None:
    project = make_project({"train.py": "print('loss: 1')\n"})
    result = cli("run", str(project), "-e", "train.py", "--output-scalars", "loss=(")
    assert result.exit_code == 2
    assert "invalid pattern 'loss=('" in result.stderr
    assert TrackingClient(store_root).search_runs() == []


def test_test_output_scalars_shows_what_an_output_would_log(
    cli, workdir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.txt"
    output.write_text("hello\nstep: 5\nloss: 0.5\nacc=0.9 f1=0.8\n")
    result = cli("run", "--test-output-scalars", str(output))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["LINE", "KEY", "VALUE", "STEP"]
    assert [line.split() for line in lines[1:]] == [
        ["3", "loss", "0.5", "5"],
        ["4", "acc", "0.9", "5"],
        ["4", "f1", "0.8", "5"],
    ]
    result = cli(
        "run", "--test-output-scalars", "-", "--output-scalars", r"f1=(?P<f1>\S+)", "--json",
        input="acc=0.9 f1=0.8\n",
    )  # fmt: skip
    assert json.loads(result.stdout) == [{"key": "f1", "value": 0.8, "step": 0, "line": 1}]
    assert not (workdir / ".mlruns").exists()  # nothing was run, no store was made
