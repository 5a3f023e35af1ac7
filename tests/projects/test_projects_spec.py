"""The MLproject file: parsed strictly into typed objects, errors before any run."""

from __future__ import annotations

from pathlib import Path

import pytest
from projecthelpers import MakeProject

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.projects import DockerEnv, Parameter, load_project

FULL = """
name: demo
python_env: env/python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.10}
      n: int
      count: {type: integer, default: 3}
      label: str
      title: {type: string, default: hello world}
      data: path
      source: {type: uri, default: "s3://bucket/key"}
      plain:
    command: "python train.py --alpha {alpha} --n {n}"
  other:
    command: bash other.sh
"""


def test_a_full_mlproject_becomes_typed_objects(make_project: MakeProject) -> None:
    root = make_project({"MLproject": FULL, "env/python_env.yaml": "python: '3.11'\n"})
    project = load_project(root)
    assert project.name == "demo"
    assert project.directory == root.resolve()
    assert project.python_env == root.resolve() / "env" / "python_env.yaml"
    assert project.conda_env is None and project.docker_env is None
    assert project.env_type == "python"
    main = project.entry_point("main")
    assert main.command == "python train.py --alpha {alpha} --n {n}"
    assert main.parameters == (
        Parameter("alpha", "float", "0.10"),  # the default is kept as written
        Parameter("n", "int", None),
        Parameter("count", "int", "3"),
        Parameter("label", "string", None),
        Parameter("title", "string", "hello world"),
        Parameter("data", "path", None),
        Parameter("source", "uri", "s3://bucket/key"),
        Parameter("plain", "string", None),
    )
    assert [p.name for p in main.parameters if p.required] == ["n", "label", "data", "plain"]
    assert set(project.entry_points) == {"main", "other"}


@pytest.mark.parametrize("filename", ["MLproject", "mlproject", "MLProject", "MLPROJECT"])
def test_the_file_name_is_matched_case_insensitively(
    make_project: MakeProject, filename: str
) -> None:
    root = make_project({filename: "name: x\nentry_points: {main: {command: 'echo hi'}}\n"})
    assert load_project(root).entry_point("main").command == "echo hi"


def test_docker_env_with_volumes_and_environment(make_project: MakeProject) -> None:
    root = make_project(
        {
            "MLproject": """
            name: d
            docker_env:
              image: python:3.11-slim
              volumes: ["/data:/data:ro", "./cache:/cache"]
              environment: [["MODE", "fast"], "HOME_DIR", ["PORT", 8080]]
            entry_points: {main: {command: python t.py}}
            """
        }
    )
    project = load_project(root)
    assert project.env_type == "docker"
    assert project.docker_env == DockerEnv(
        image="python:3.11-slim",
        volumes=("/data:/data:ro", "./cache:/cache"),
        environment=(("MODE", "fast"), ("HOME_DIR", None), ("PORT", "8080")),
    )


def test_without_an_mlproject_py_and_sh_files_are_entry_points(make_project: MakeProject) -> None:
    root = make_project({"train.py": "print(1)\n", "run it.sh": "echo 1\n"})
    project = load_project(root)
    assert project.spec_file is None and project.env_type is None
    assert project.entry_point("train.py").command == "python train.py"
    assert project.entry_point("run it.sh").command == "bash 'run it.sh'"
    assert project.entry_point("train.py").is_script


def test_scripts_must_exist_and_other_names_are_unknown(make_project: MakeProject) -> None:
    root = make_project({"MLproject": "entry_points: {main: {command: 'echo'}}\n"})
    project = load_project(root)
    with pytest.raises(NotFoundError, match=r"no script 'missing\.py'"):
        project.entry_point("missing.py")
    with pytest.raises(NotFoundError, match=r"unknown entry point 'train'.*'main'"):
        project.entry_point("train")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", r"is not valid YAML \(line 2"),
        ("- a\n- b\n", r"expected a mapping"),
        (
            "python_env: p.yaml\nconda_env: c.yaml\n",
            r"at most one environment, but python_env and conda_env",
        ),
        (
            "docker_env: {image: x}\npython_env: p.yaml\n",
            r"python_env and docker_env are both given",
        ),
        ("entry_points: [main]\n", r"'entry_points' must be a mapping"),
        ("entry_points: {main: {parameters: {}}}\n", r"entry point 'main' has no 'command'"),
        (
            "entry_points: {main: {command: x, parameters: {a: boolean}}}\n",
            r"parameter 'a': unknown type 'boolean' \(valid types: float, int",
        ),
        (
            "entry_points: {main: {command: x, parameters: {a: {type: int, defualt: 3}}}}\n",
            r"unknown key\(s\) defualt",
        ),
        (
            "entry_points: {main: {command: x, parameters: {a: {type: float, default: abc}}}}\n",
            r"the default is invalid: invalid value 'abc' for float parameter 'a'",
        ),
        ("python_env: missing.yaml\n", r"'python_env' names 'missing.yaml', but .* does not exist"),
        ("docker_env: {volumes: []}\n", r"docker_env needs an 'image'"),
        ("docker_env: {image: x, run_params: [a]}\n", r"unknown key\(s\) run_params"),
        ("docker_env: {image: x, environment: [[A]]}\n", r"a \[NAME, value\] pair"),
    ],
)
def test_malformed_files_are_one_clear_error(
    make_project: MakeProject, text: str, message: str
) -> None:
    root = make_project({"MLproject": text, "p.yaml": "", "c.yaml": ""})
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_project(root)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_missing_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such project directory"):
        load_project(tmp_path / "nope")
