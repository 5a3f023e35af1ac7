"""Gated promotion: move a version to a stage or an alias only when conditions hold.

``require`` is a filter expression (the search language) over the version's source
run; ``better_than`` names a stage or an alias whose holder the version must beat on
``metric``. A refused promotion changes nothing and says which condition failed,
with the values. Promoting a version to what it already holds changes nothing and
succeeds, so a CI job can run the same promotion twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from mlcli.errors import InvalidInputError, MlcliError
from mlcli.registry.entities import ModelVersion, Stage
from mlcli.registry.names import validate_alias
from mlcli.registry.protocol import Registry
from mlcli.search import Compare, Node, evaluate, parse_filter
from mlcli.search.direction import lower_is_better
from mlcli.search.evaluate import field_value
from mlcli.store import Run
from mlcli.tracking import TrackingClient


class PromotionRefused(MlcliError):
    """A condition of a gated promotion does not hold (exit 1, nothing changed)."""

    error_code = "INVALID_STATE"
    http_status = 409


@dataclass(frozen=True)
class Promotion:
    name: str
    version: int
    stage: str | None = None
    alias: str | None = None
    archive_existing: bool = False
    require: str | None = None
    better_than: str | None = None
    metric: str | None = None
    higher_is_better: bool | None = None
    comment: str | None = None


@dataclass(frozen=True)
class PromotionResult:
    version: ModelVersion
    changed: bool
    checks: tuple[str, ...]


def promote(registry: Registry, client: TrackingClient, request: Promotion) -> PromotionResult:
    target = _validated_target(request)
    current = registry.get_version(request.name, request.version)
    if _already_holds(registry, current, request):
        return PromotionResult(current, False, ())
    require = parse_filter(request.require) if request.require else None
    run = _source_run(client, current) if (require or request.better_than) else None
    checks: list[str] = []
    failures: list[str] = []
    if require is not None and run is not None:
        shown = _shown_values(require, run)
        if evaluate(require, run):
            checks.append(f"require {request.require!r} holds ({shown})")
        else:
            failures.append(f"--require {request.require!r} does not hold ({shown})")
    if request.better_than and run is not None:
        verdict, passed = _compare_with_holder(registry, client, request, current, run)
        (checks if passed else failures).append(verdict)
    if failures:
        raise PromotionRefused(
            f"promotion of {request.name} version {request.version} to {target} refused: "
            + "; ".join(failures)
        )
    comment = "; ".join(filter(None, [request.comment, *checks])) or None
    if request.stage:
        updated = registry.transition_stage(
            request.name, request.version, request.stage, request.archive_existing, comment
        )
    else:
        assert request.alias is not None
        updated = registry.set_alias(request.name, request.alias, request.version, comment)
    return PromotionResult(updated, True, tuple(checks))


def _validated_target(request: Promotion) -> str:
    if bool(request.stage) == bool(request.alias):
        raise InvalidInputError("give exactly one of --stage and --alias")
    if request.better_than and not request.metric:
        raise InvalidInputError("--better-than needs --metric KEY to compare on")
    if request.archive_existing and not request.stage:
        raise InvalidInputError("--archive-existing applies to --stage only")
    if request.stage:
        stage = Stage.canonical(request.stage)
        if request.archive_existing and stage not in (Stage.STAGING, Stage.PRODUCTION):
            raise InvalidInputError("--archive-existing applies to Staging and Production only")
        return f"stage {stage}"
    return f"alias {validate_alias(request.alias)!r}"


def _already_holds(registry: Registry, current: ModelVersion, request: Promotion) -> bool:
    if request.alias:
        return request.alias in current.aliases
    stage = Stage.canonical(request.stage or "")
    if current.stage != stage:
        return False
    if not request.archive_existing:
        return True
    others = registry.list_versions(request.name)
    return not any(v.stage == stage and v.version != current.version for v in others)


def _source_run(client: TrackingClient, version: ModelVersion) -> Run:
    if not version.run_id:
        raise PromotionRefused(
            f"version {version.version} has no source run, so its conditions cannot be checked"
        )
    try:
        return client.get_run(version.run_id)
    except MlcliError:
        raise PromotionRefused(
            f"the source run {version.run_id[:8]} of version {version.version} no longer "
            "exists, so its conditions cannot be checked"
        ) from None


def _compare_with_holder(
    registry: Registry,
    client: TrackingClient,
    request: Promotion,
    current: ModelVersion,
    run: Run,
) -> tuple[str, bool]:
    metric = (request.metric or "").removeprefix("metrics.")
    holder = registry.holder(request.name, request.better_than or "")
    label = f"{request.better_than}"
    if holder is None:
        return f"nothing holds {label} yet, so there is nothing to beat", True
    if holder.version == current.version:
        return f"version {current.version} already holds {label}", True
    mine = run.data.metrics.get(metric)
    if mine is None or math.isnan(mine):
        return f"version {current.version}'s run has no value for metrics.{metric}", False
    theirs_run = _source_run(client, holder)
    theirs = theirs_run.data.metrics.get(metric)
    if theirs is None or math.isnan(theirs):
        return (
            f"{label} (version {holder.version}) has no value for metrics.{metric}, so "
            "there is nothing to beat"
        ), True
    higher = (
        (not lower_is_better(metric))
        if request.higher_is_better is None
        else (request.higher_is_better)
    )
    better = mine > theirs if higher else mine < theirs
    direction = "higher" if higher else "lower"
    relation = "better than" if better else "not better than"
    return (
        f"metrics.{metric} of version {current.version} ({mine:g}) is {relation} {label} "
        f"(version {holder.version}: {theirs:g}; {direction} is better)",
        better,
    )


def _shown_values(node: Node, run: Run) -> str:
    """The run's values of every field the filter mentions, e.g. ``metrics.acc=0.78``."""
    shown = []
    for compare in _comparisons(node):
        value = field_value(compare.field, run)
        text = "missing" if value is None else (f"{value:g}" if isinstance(value, float) else value)
        item = f"{compare.field}={text}"
        if item not in shown:
            shown.append(item)
    return ", ".join(shown)


def _comparisons(node: Node) -> Iterator[Compare]:
    if isinstance(node, Compare):
        yield node
    elif hasattr(node, "items"):
        for item in node.items:
            yield from _comparisons(item)
    else:
        yield from _comparisons(node.item)
