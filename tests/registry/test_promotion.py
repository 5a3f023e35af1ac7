"""Gated promotion: conditions, refusals that change nothing, idempotent re-runs."""

from __future__ import annotations

import pytest

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.registry import Promotion, PromotionRefused


@pytest.fixture
def two_versions(client: MlcliClient, model_run) -> MlcliClient:
    client.register_model(f"runs:/{model_run(0.82)}/model", "churn")
    client.register_model(f"runs:/{model_run(0.86)}/model", "churn")
    client.promote(Promotion("churn", 1, stage="Production"))
    return client


def _stages(client: MlcliClient) -> list[str]:
    return [v.stage for v in client.search_model_versions("churn")]


def test_gated_promotion_that_passes_records_its_checks(two_versions: MlcliClient) -> None:
    result = two_versions.promote(
        Promotion(
            "churn",
            2,
            stage="Production",
            archive_existing=True,
            require="metrics.accuracy >= 0.8",
            better_than="Production",
            metric="accuracy",
        )
    )
    assert result.changed and _stages(two_versions) == ["Archived", "Production"]
    assert result.checks == (
        "require 'metrics.accuracy >= 0.8' holds (metrics.accuracy=0.86)",
        "metrics.accuracy of version 2 (0.86) is better than Production "
        "(version 1: 0.82; higher is better)",
    )
    last = two_versions.get_model_history("churn")
    assert "is better than Production" in (last[-2].comment or "")


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        (
            {"require": "metrics.accuracy >= 0.9"},
            "--require 'metrics.accuracy >= 0.9' does not hold (metrics.accuracy=0.86)",
        ),
        (
            {"require": "params.model = 'rf'"},
            "--require \"params.model = 'rf'\" does not hold (params.model=missing)",
        ),
        (
            {"better_than": "Production", "metric": "accuracy", "higher_is_better": False},
            "metrics.accuracy of version 2 (0.86) is not better than Production "
            "(version 1: 0.82; lower is better)",
        ),
        (
            {"better_than": "Production", "metric": "loss"},
            "version 2's run has no value for metrics.loss",
        ),
    ],
)
def test_refused_promotions_change_nothing(
    two_versions: MlcliClient, request_args: dict, message: str
) -> None:
    before = two_versions.get_model_history("churn")
    with pytest.raises(PromotionRefused) as refused:
        two_versions.promote(Promotion("churn", 2, stage="Production", **request_args))
    assert message in str(refused.value) and refused.value.exit_code == 1
    assert _stages(two_versions) == ["Production", "None"]
    assert two_versions.get_model_history("churn") == before


def test_promoting_to_what_it_holds_is_a_no_op(two_versions: MlcliClient) -> None:
    before = two_versions.get_model_history("churn")
    result = two_versions.promote(
        Promotion("churn", 1, stage="production", require="metrics.accuracy > 0.99")
    )
    assert not result.changed
    two_versions.promote(Promotion("churn", 2, alias="champion"))
    assert not two_versions.promote(Promotion("churn", 2, alias="champion")).changed
    assert len(two_versions.get_model_history("churn")) == len(before) + 1


def test_better_than_an_alias_and_nothing_to_beat(two_versions: MlcliClient) -> None:
    first = two_versions.promote(
        Promotion("churn", 1, alias="champion", better_than="champion", metric="accuracy")
    )
    assert first.checks == ("nothing holds champion yet, so there is nothing to beat",)
    result = two_versions.promote(
        Promotion("churn", 2, alias="champion", better_than="champion", metric="metrics.accuracy")
    )
    assert result.changed
    assert two_versions.get_model_version_by_alias("churn", "champion").version == 2


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"version": 9, "stage": "Staging"}, NotFoundError, "has no version 9"),
        ({"version": 2, "alias": "latest"}, InvalidInputError, "is reserved"),
        ({"version": 2}, InvalidInputError, "exactly one of --stage and --alias"),
        ({"version": 2, "stage": "Staging", "alias": "x"}, InvalidInputError, "exactly one"),
        (
            {"version": 2, "stage": "Staging", "better_than": "Production"},
            InvalidInputError,
            "needs --metric",
        ),
        (
            {"version": 2, "alias": "x", "archive_existing": True},
            InvalidInputError,
            "applies to --stage only",
        ),
        (
            {"version": 2, "stage": "Staging", "require": "metrics.x >"},
            InvalidInputError,
            "expected",
        ),
    ],
)
def test_invalid_promotions(
    two_versions: MlcliClient, args: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        two_versions.promote(Promotion("churn", **args))
    assert _stages(two_versions) == ["Production", "None"]
