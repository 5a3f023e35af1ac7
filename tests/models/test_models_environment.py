"""``pip_requirements``, ``extra_pip_requirements`` and ``conda_env`` read as MLflow
reads them (a path to a requirements file, ``-r``/``-c`` lines in it, a list; a conda
mapping or YAML file), for ``save_model`` and ``log_model`` of every flavor. MLflow's
own ``save_model`` is the oracle where it writes the same thing without inference."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlcli
import mlcli.pyfunc
import mlcli.sklearn
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.environment import mlflow_requirement


class Double(mlcli.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["x"] * 2


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.fixture
def requirement_files(workdir: Path) -> Path:
    """requirements.txt in the working directory, including other.txt (from a folder
    of its own, including its neighbour) and constraints."""
    (workdir / "reqs").mkdir()
    (workdir / "reqs" / "other.txt").write_text("requests>=2  # inline comment\n-r more.txt\n")
    (workdir / "reqs" / "more.txt").write_text("# only a comment\nrich\n")
    (workdir / "constraints.txt").write_text("urllib3<3\n")
    (workdir / "requirements.txt").write_text(
        "# a header\n\nscikit-learn\\\n>=1.0\n-r reqs/other.txt\n-c constraints.txt\n"
    )
    return workdir / "requirements.txt"


@pytest.mark.parametrize("as_path", [str, Path])
def test_a_requirements_file_path_is_read_not_split_into_characters(
    requirement_files: Path, iris_classifier: Any, tmp_path: Path, as_path: Any
) -> None:
    mlcli.sklearn.save_model(
        iris_classifier, tmp_path / "m", pip_requirements=as_path("requirements.txt")
    )
    assert lines(tmp_path / "m" / "requirements.txt") == [
        mlflow_requirement(),
        "scikit-learn>=1.0",
        "requests>=2",
        "rich",
        "-c constraints.txt",
    ]
    assert lines(tmp_path / "m" / "constraints.txt") == ["urllib3<3"]
    conda = yaml.safe_load((tmp_path / "m" / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": lines(tmp_path / "m" / "requirements.txt")}


@pytest.mark.mlflow
@pytest.mark.filterwarnings("ignore")
def test_requirements_match_what_mlflow_writes(
    requirement_files: Path, iris_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    monkeypatch.setenv("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
    given = ["requests", "-r requirements.txt", "requests>=2"]
    for argument in ("requirements.txt", given):
        mlcli.sklearn.save_model(iris_classifier, tmp_path / "ours", pip_requirements=argument)
        mlflow_sklearn.save_model(iris_classifier, tmp_path / "theirs", pip_requirements=argument)
        for name in ("requirements.txt", "constraints.txt"):
            ours, theirs = tmp_path / "ours" / name, tmp_path / "theirs" / name
            assert set(lines(ours)) == set(lines(theirs)), (argument, name)
        for path in (tmp_path / "ours", tmp_path / "theirs"):
            __import__("shutil").rmtree(path)


def test_extra_requirements_are_added_to_the_detected_ones(
    requirement_files: Path, iris_classifier: Any, tmp_path: Path
) -> None:
    (requirement_files.parent / "extra.txt").write_text("scikit-learn>=1.0\n-r reqs/more.txt\n")
    mlcli.sklearn.save_model(iris_classifier, tmp_path / "m", extra_pip_requirements="extra.txt")
    written = lines(tmp_path / "m" / "requirements.txt")
    assert written[0] == mlflow_requirement()
    assert written[-2:] == ["scikit-learn>=1.0", "rich"]  # the extra replaced the detected pin
    assert not [line for line in written if line.startswith("scikit-learn==")]
    assert not (tmp_path / "m" / "constraints.txt").exists()


def test_a_conda_env_mapping_or_file_gives_the_requirements(
    requirement_files: Path, tmp_path: Path
) -> None:
    conda = {
        "name": "mine",
        "channels": ["defaults"],
        "dependencies": ["python=3.11", "pip", {"pip": ["pandas", "-r requirements.txt"]}],
    }
    mlcli.pyfunc.save_model(tmp_path / "a", python_model=Double(), conda_env=conda)
    (tmp_path / "conda.yaml").write_text(yaml.safe_dump(conda))
    (tmp_path / "requirements.txt").write_text("numpy\n")  # relative to the YAML file
    mlcli.pyfunc.save_model(
        tmp_path / "b", python_model=Double(), conda_env=tmp_path / "conda.yaml"
    )
    for model, included in (("a", ["scikit-learn>=1.0", "requests>=2", "rich"]), ("b", ["numpy"])):
        expected = [mlflow_requirement(), "pandas", *included]
        if model == "a":
            expected.append("-c constraints.txt")
        assert lines(tmp_path / model / "requirements.txt") == expected
        written = yaml.safe_load((tmp_path / model / "conda.yaml").read_text())
        assert written["name"] == "mine" and written["channels"] == ["defaults"]
        assert written["dependencies"] == ["python=3.11", "pip", {"pip": expected}]


def test_log_model_reads_them_too(
    run_id: str, store: Path, requirement_files: Path, iris_classifier: Any
) -> None:
    mlcli.sklearn.log_model(iris_classifier, "sk", pip_requirements="requirements.txt")
    mlcli.pyfunc.log_model("py", python_model=Double(), extra_pip_requirements=["requests"])
    artifacts = store / "runs" / run_id / "artifacts"
    assert "rich" in lines(artifacts / "sk" / "requirements.txt")
    assert (artifacts / "sk" / "constraints.txt").is_file()
    assert lines(artifacts / "py" / "requirements.txt")[-1] == "requests"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"pip_requirements": 3}, InvalidInputError, "pip_requirements must be a path to a"),
        (
            {"pip_requirements": ["a", 2]},
            InvalidInputError,
            "must hold requirement strings, not int",
        ),
        ({"extra_pip_requirements": {"a": 1}}, InvalidInputError, "not dict"),
        ({"conda_env": ["pip"]}, InvalidInputError, "conda_env must be a mapping or a path"),
        ({"conda_env": {"dependencies": "pip"}}, InvalidInputError, "is not a list"),
        ({"pip_requirements": "missing.txt"}, NotFoundError, "no such requirements file"),
        ({"pip_requirements": ["-r missing.txt"]}, NotFoundError, "missing.txt"),
        ({"conda_env": "missing.yaml"}, NotFoundError, "conda_env: no such file"),
        (
            {"pip_requirements": ["a"], "extra_pip_requirements": ["b"]},
            InvalidInputError,
            "only one of conda_env, pip_requirements and extra_pip_requirements",
        ),
    ],
)
def test_wrong_arguments_are_one_line_errors(
    workdir: Path, iris_classifier: Any, options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        mlcli.sklearn.save_model(iris_classifier, workdir / "m", **options)
    assert "\n" not in str(caught.value)
    assert not (workdir / "m").exists()  # nothing half-written is left


def test_a_file_including_itself_is_refused(workdir: Path) -> None:
    (workdir / "loop.txt").write_text("-r loop.txt\n")
    with pytest.raises(InvalidInputError, match="includes itself"):
        mlcli.pyfunc.save_model(workdir / "m", python_model=Double(), pip_requirements="loop.txt")
