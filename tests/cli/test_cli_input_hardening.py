"""Hostile input at the command line (issue 15, findings 6, 10 and 11): every bad
value is one line on stderr and exit 2, and nothing reaches the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcli.store import Store


@pytest.fixture
def run_id(cli, store_root: Path) -> str:
    return cli("runs", "create", "--name", "plain", "-q").stdout.strip()


def _logs(store_root: Path, run_id: str) -> dict[str, str]:
    """Every log of the run, as text: the test's proof that nothing was written."""
    run_dir = store_root / "runs" / run_id
    return {p.name: p.read_text() for p in sorted(run_dir.glob("*.jsonl"))}


def _mlcli(args: list[bytes | str], cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


# -- finding 6: a batch that cannot be encoded writes nothing -----------------------------------


def test_a_non_utf8_byte_in_a_batch_from_stdin_writes_nothing(
    run_id: str, store_root: Path, workdir: Path
) -> None:
    before = _logs(store_root, run_id)
    batch = b'{"param": "a", "value": "1"}\n{"tag": "t", "value": "x\xff"}\n'
    result = _mlcli(["log", "batch", "-", "--run", run_id], workdir, stdin=batch)
    assert (result.returncode, result.stderr) == (
        2,
        b"mlcli: error: line 2: not valid UTF-8 text\n",
    )
    assert _logs(store_root, run_id) == before


def test_a_non_utf8_byte_in_a_batch_file_writes_nothing(
    cli, run_id: str, store_root: Path, tmp_path: Path
) -> None:
    before = _logs(store_root, run_id)
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(b'{"metric": "m", "value": 1}\n\n{"tag": "t", "value": "\xc3("}\n')
    result = cli("log", "batch", str(batch), "--run", run_id)
    assert (result.exit_code, result.stderr) == (2, "mlcli: error: line 3: not valid UTF-8 text\n")
    assert _logs(store_root, run_id) == before


# -- finding 10: names, keys, argv, nesting ------------------------------------------------------


@pytest.mark.parametrize("tag", ["mlcli.runName", "mlflow.runName"])
def test_a_run_name_tag_with_a_newline_is_refused(
    cli, run_id: str, store_root: Path, tag: str
) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", "tag", tag, "evil\nfake-row", "--run", run_id)
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: invalid run name 'evil\\nfake-row': control characters (such as a "
        "newline) are not allowed\n",
    )
    assert _logs(store_root, run_id) == before
    listing = cli("runs", "list", "--json").json()
    assert [run["run_name"] for run in listing] == ["plain"]


def test_a_run_name_tag_in_a_batch_is_validated_too(cli, run_id: str, store_root: Path) -> None:
    before = _logs(store_root, run_id)
    line = json.dumps({"tag": "mlcli.runName", "value": "a\rb"}) + "\n"
    result = cli("log", "batch", "-", "--run", run_id, input='{"param": "p", "value": 1}\n' + line)
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: line 2: invalid run name 'a\\rb'")
    assert _logs(store_root, run_id) == before


def test_runs_create_refuses_a_name_with_a_newline(cli, store_root: Path) -> None:
    result = cli("runs", "create", "--name", "two\nlines")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "invalid run name" in result.stderr
    assert os.listdir(store_root / "runs") == []


@pytest.mark.parametrize("kind", ["param", "tag", "metric"])
def test_a_key_ending_in_a_newline_is_refused(
    cli, run_id: str, store_root: Path, kind: str
) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", kind, "key\n", "1", "--run", run_id)
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: invalid {kind} key 'key\\n': only letters, digits, '_', '-', '.', ' ', "
        "':' and '/' are allowed\n",
    )
    assert _logs(store_root, run_id) == before


def test_a_non_utf8_argument_is_one_line_and_exit_2(
    run_id: str, store_root: Path, workdir: Path
) -> None:
    before = _logs(store_root, run_id)
    result = _mlcli(["log", "tag", "t", b"x\xff", "--run", run_id], workdir)
    assert (result.returncode, result.stderr) == (
        2,
        b"mlcli: error: argument 'x\\xff' is not valid UTF-8 text\n",
    )
    assert _logs(store_root, run_id) == before


def test_deep_json_nesting_in_a_batch_is_one_line_and_exit_2(
    cli, run_id: str, store_root: Path
) -> None:
    before = _logs(store_root, run_id)
    deep = '{"tag": "t", "value": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    result = cli("log", "batch", "-", "--run", run_id, input=deep)
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: line 1: not valid JSON (nested too deeply)\n",
    )
    assert _logs(store_root, run_id) == before


def test_deep_yaml_nesting_in_an_mlproject_is_one_line_and_exit_2(
    cli, store_root: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: x\nentry_points: " + "[" * 50_000 + "]" * 50_000)
    result = cli("run", str(project))
    assert result.exit_code == 2
    assert result.stderr.startswith("mlcli: error: ") and result.stderr.count("\n") == 1
    assert "nest" in result.stderr


def test_a_param_value_must_be_a_string_or_a_number(cli, run_id: str, store_root: Path) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", "batch", "-", "--run", run_id, input='{"param": "p", "value": {"a": 1}}\n')
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: line 1: the value of param 'p' must be a string or a number\n",
    )
    assert _logs(store_root, run_id) == before


# -- finding 11: numbers -------------------------------------------------------------------------


OUT_OF_RANGE = "out of the range of a double (±1.8e308); write inf or -inf for an infinite value"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1e309", "1e309"), ("-1e309", "-1e309"), ("9" * 401, "9" * 40 + "...")],
)
def test_a_metric_beyond_a_double_is_refused(
    cli, run_id: str, store_root: Path, value: str, shown: str
) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", "metric", "--run", run_id, "--", "m", value)
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: invalid value '{shown}' for metric 'm': {OUT_OF_RANGE}\n",
    )
    assert _logs(store_root, run_id) == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"metric": "m", "value": 1e309}', "not valid JSON (the number 1e309 is out of the range"),
        ('{"param": "p", "value": 1e309}', "not valid JSON (the number 1e309 is out of the range"),
        (
            '{"metric": "m", "value": "1e309"}',
            f"invalid value '1e309' for metric 'm': {OUT_OF_RANGE}",
        ),
        ('{"metric": "m", "value": ' + "9" * 401 + "}", f"for metric 'm': {OUT_OF_RANGE}"),
        ('{"metric": "m", "value": 1, "step": ' + "9" * 401 + "}", "out of the 64-bit range"),
        ('{"metric": "m", "value": 1, "timestamp": 1e300}', "must be a non-negative int64"),
        ('{"metric": "m", "value": 1, "step": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_numbers_out_of_range_in_a_batch_are_refused(
    cli, run_id: str, store_root: Path, line: str, message: str
) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", "batch", "-", "--run", run_id, input='{"param": "ok", "value": 1}\n' + line)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mlcli: error: line 2: ") and message in result.stderr
    assert _logs(store_root, run_id) == before


def test_a_step_beyond_int64_is_refused(cli, run_id: str, store_root: Path) -> None:
    before = _logs(store_root, run_id)
    result = cli("log", "metric", "m", "1", "--step", "9" * 30, "--run", run_id)
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: invalid step {'9' * 30}: out of the 64-bit range\n",
    )
    assert _logs(store_root, run_id) == before


@pytest.mark.parametrize("literal", ["inf", "-inf", "Infinity", "nan", "NaN"])
def test_explicit_infinities_and_nan_are_still_metric_values(
    cli, run_id: str, literal: str
) -> None:
    assert cli("log", "metric", "--run", run_id, "--", "m", literal).exit_code == 0
    line = json.dumps({"metric": "b", "value": literal}) + "\n"
    assert cli("log", "batch", "-", "--run", run_id, input=line).exit_code == 0
    metrics = cli("runs", "show", run_id, "--json").json()["metrics"]
    assert str(metrics["m"]).lower().lstrip("-") in ("inf", "infinity", "nan")


def test_a_batch_splits_lines_on_line_feeds_only(cli, run_id: str, store_root: Path) -> None:
    text = "one\u2028two\u0085three\x0bfour\x1cfive"
    line = json.dumps({"tag": "note", "value": text}, ensure_ascii=False) + "\n"
    result = cli("log", "batch", "-", "--run", run_id, input=line)
    assert result.exit_code == 0, result.stderr
    store = Store.open(store_root)
    assert store.runs.read_tags(run_id)["note"] == text


def test_a_limit_beyond_int64_is_one_line_and_exit_2(cli, run_id: str) -> None:
    result = cli("runs", "list", "--limit", "9" * 30)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("mlcli: error: Invalid value for '--limit'")


def test_any_input_nested_too_deeply_is_one_line_and_exit_2(cli, tmp_path: Path) -> None:
    """The backstop at the CLI's edge: here an MLmodel file, read by PyYAML."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: " + "[" * 5000 + "]" * 5000)
    inputs = tmp_path / "in.json"
    inputs.write_text('{"inputs": [[1]]}')
    result = cli("models", "predict", "-m", str(model), "-i", str(inputs))
    assert (result.exit_code, result.stderr) == (
        2,
        "mlcli: error: the input nests too deeply to be read\n",
    )
