"""Model URIs: parsing every form, and resolving paths, runs:/ and models:/ URIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models import LocalModelUri, RegistryModelUri, RunModelUri, parse_model_uri
from mlcli.models.uri import resolve_model_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("runs:/3f2a/model", RunModelUri("3f2a", "model")),
        ("runs:/3F2A/nested/model/", RunModelUri("3f2a", "nested/model")),
        ("models:/churn/3", RegistryModelUri("churn", version=3)),
        ("models:/churn/production", RegistryModelUri("churn", stage="Production")),
        ("models:/churn/None", RegistryModelUri("churn", stage="None")),
        ("models:/churn/Latest", RegistryModelUri("churn", latest=True)),
        ("models:/churn@champion", RegistryModelUri("churn", alias="champion")),
        ("models:/my model/1", RegistryModelUri("my model", version=1)),
        ("path/to/model", LocalModelUri(Path("path/to/model"))),
        ("file:///srv/models/a%20b", LocalModelUri(Path("/srv/models/a b"))),
    ],
)
def test_parse(text: str, expected: Any) -> None:
    assert parse_model_uri(text) == expected


def test_uris_print_back() -> None:
    for text in ("runs:/3f2a/model", "models:/churn/3", "models:/churn@champion"):
        assert str(parse_model_uri(text)) == text
    assert str(parse_model_uri("models:/churn/latest")) == "models:/churn/latest"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runs:/3f2a", "expected runs:/<run_id>/<path>"),
        ("runs:/not-hex/model", "expected runs:/<run_id>/<path>"),
        ("runs:/3f2a/../escape", "escapes"),
        ("models:/churn", "expected models:/<name>/<version|stage|latest>"),
        ("models:/churn/1/extra", "expected models:/<name>"),
        ("models:/churn/Prod", "'Prod' is not a version number, 'latest' or a stage"),
        ("models:/churn@bad alias", "expected models:/<name>"),
        ("s3://bucket/model", "unsupported model URI"),
        ("", "empty model URI"),
    ],
)
def test_invalid_uris_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("|", r"\|").replace("(", r"\(")):
        parse_model_uri(text)


def test_a_path_must_hold_an_mlmodel(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file or directory"):
        resolve_model_uri(str(tmp_path / "missing"))
    with pytest.raises(NotFoundError, match="it has no MLmodel file"):
        resolve_model_uri(str(tmp_path))
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    assert resolve_model_uri(str(tmp_path)).directory == tmp_path
    assert resolve_model_uri(str(tmp_path / "MLmodel")).directory == tmp_path


def test_runs_uris_take_id_prefixes(run_id: str, iris: Any, iris_classifier: Any) -> None:
    import mlcli.sklearn

    mlcli.sklearn.log_model(iris_classifier, "nested/clf")
    resolved = resolve_model_uri(f"runs:/{run_id[:6]}/nested/clf")
    assert resolved.run_id == run_id
    assert (resolved.directory / "MLmodel").is_file()
    with pytest.raises(NotFoundError, match=f"run {run_id[:8]} has no model at 'other'"):
        resolve_model_uri(f"runs:/{run_id}/other")
    with pytest.raises(NotFoundError):
        resolve_model_uri("runs:/ffffffff/clf")


def test_models_uris_resolve_through_the_registry(
    run_id: str, iris: Any, iris_classifier: Any
) -> None:
    import mlcli.sklearn
    from mlcli.client import MlcliClient

    info = mlcli.sklearn.log_model(iris_classifier, "clf", registered_model_name="iris")
    assert info.registered_model_version == 1
    client = MlcliClient()
    client.register_model(info.model_uri, "iris")  # version 2
    client.set_registered_model_alias("iris", "champion", 1)
    client.transition_model_version_stage("iris", 2, "Staging")
    expected = {
        "models:/iris/1": 1,
        "models:/iris/latest": 2,
        "models:/iris@champion": 1,
        "models:/iris/staging": 2,
    }
    for uri, version in expected.items():
        resolved = resolve_model_uri(uri)
        assert resolved.directory == client.registry().artifacts_path("iris", version)
        assert resolved.run_id == run_id
    with pytest.raises(NotFoundError, match="no version in stage Production"):
        resolve_model_uri("models:/iris/Production")
    with pytest.raises(NotFoundError):
        resolve_model_uri("models:/nobody/1")
