"""Parameter values: checked by type, paths resolved against the project, shell-quoted
into the command, logged as given."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mlcli.assignments import parse_assignments, parse_key_values
from mlcli.errors import InvalidInputError
from mlcli.projects.parameters import (
    Parameter,
    render_command,
    resolve_parameters,
)

DECLARED = (
    Parameter("alpha", "float", "0.5"),
    Parameter("n", "int", "3"),
    Parameter("name", "string", "x"),
    Parameter("data", "path", "data.csv"),
    Parameter("source", "uri", "s3://b/k"),
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "other dir").mkdir()
    return tmp_path


def test_defaults_fill_in_and_are_logged_as_written(project: Path) -> None:
    resolved = resolve_parameters(DECLARED, {}, project, "main")
    assert resolved.logged() == {
        "alpha": "0.5",
        "n": "3",
        "name": "x",
        "data": "data.csv",
        "source": "s3://b/k",
    }
    assert resolved.paths == {"data": project / "data.csv"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("alpha", "abc", r"invalid value 'abc' for float parameter 'alpha': expected a number"),
        ("alpha", "", r"for float parameter 'alpha'"),
        ("n", "2.5", r"invalid value '2.5' for int parameter 'n': expected an integer"),
        ("data", "nope.csv", r"for path parameter 'data': no such file or directory: .*nope"),
        ("data", "s3://bucket/x", r"a 'path' parameter takes a local path"),
        ("source", "relative/file", r"for uri parameter 'source': expected a URI"),
    ],
)
def test_values_are_checked_against_their_type(
    project: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        resolve_parameters(DECLARED, {name: value}, project, "main")


@pytest.mark.parametrize("value", ["1e-3", "-2", "nan", "inf", "0.10"])
def test_floats_in_any_python_spelling(project: Path, value: str) -> None:
    assert resolve_parameters(DECLARED, {"alpha": value}, project, "main").values["alpha"] == value


def test_required_parameters_are_listed_together(project: Path) -> None:
    declared = (Parameter("a", "int"), Parameter("b", "string", "x"), Parameter("c", "path"))
    with pytest.raises(InvalidInputError) as caught:
        resolve_parameters(declared, {"b": "y"}, project, "train")
    message = str(caught.value)
    assert "entry point 'train' needs a value for required parameter(s) 'a', 'c'" in message
    assert "-P a=... -P c=..." in message


def test_paths_resolve_against_the_project_not_the_working_directory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resolved = resolve_parameters(DECLARED, {"data": "other dir"}, project, "main")
    assert resolved.paths["data"] == project / "other dir"
    assert resolved.values["data"] == "other dir"  # logged as the user gave it
    absolute = resolve_parameters(DECLARED, {"data": str(project / "data.csv")}, project, "m")
    assert absolute.paths["data"] == project / "data.csv"
    uri = resolve_parameters(DECLARED, {"data": f"file://{project}/data.csv"}, project, "m")
    assert uri.paths["data"] == project / "data.csv"


def test_the_command_quotes_every_value_and_appends_undeclared_ones(project: Path) -> None:
    given = {"name": "hello world; rm -rf /", "extra": "it's", "flag-x": "1"}
    resolved = resolve_parameters(DECLARED, given, project, "main")
    template = "python t.py --name {name} --data {data} --n {n} {unknown} ${HOME}"
    command = render_command(template, resolved)
    assert command == (
        "python t.py --name 'hello world; rm -rf /' "
        f"--data {shlex.quote(str(project / 'data.csv'))} --n 3 {{unknown}} ${{HOME}} "
        "--extra 'it'\"'\"'s' --flag-x 1"
    )
    assert shlex.split(command)[3] == "hello world; rm -rf /"
    assert resolved.logged()["name"] == "hello world; rm -rf /"
    assert resolved.extras == {"extra": "it's", "flag-x": "1"}


def test_paths_can_be_mapped_for_environments_that_see_them_elsewhere(project: Path) -> None:
    resolved = resolve_parameters(DECLARED, {}, project, "main")
    command = render_command("cat {data}", resolved, lambda p: "/mlcli/project/" + p.name)
    assert command == "cat /mlcli/project/data.csv"


def test_assignments_split_on_the_first_equals_sign() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(InvalidInputError, match="expects NAME=VALUE"):
        parse_assignments(["novalue"])
    with pytest.raises(InvalidInputError, match="parameter 'a' is given twice"):
        parse_assignments(["a=1", "a=2"])


def test_tag_options_take_the_last_value_of_a_key() -> None:
    assert parse_key_values(["a=1", "a=2"], "--tag") == {"a": "2"}
    with pytest.raises(InvalidInputError, match=r"^--tag expects KEY=VALUE, got 'a'$"):
        parse_key_values(["a"], "--tag")


def test_undeclared_names_must_be_valid_param_keys(project: Path) -> None:
    with pytest.raises(InvalidInputError, match="invalid parameter name 'we!rd'"):
        resolve_parameters(DECLARED, {"we!rd": "1"}, project, "main")
