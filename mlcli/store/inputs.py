"""What a run read: its dataset and model inputs, as lines of ``inputs.jsonl``.

A run's inputs only grow, so they are an append-only log in the run's folder, one
line per input (docs/store.md)::

    {"dataset": {"name": "iris", "digest": "1f0e3c9a", "source_type": "local",
                 "source": "{\\"uri\\": \\"/data/iris.csv\\"}", "schema": "...",
                 "profile": "..."}, "tags": {"mlflow.data.context": "train"}}
    {"model_id": "m-0123456789abcdef0123456789abcdef"}

A dataset is known by its name and digest: logged again to the same run, the first
line stays (as MLflow, whose stores keep the first and ignore the rest, tags
included). A model is an input once however often it is logged. Every store shares
the checks (MLflow's limits) and the reading rule here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.store.entities import Dataset, DatasetInput, ModelInput, RunInputs

# MLflow's limits (its REST API's), so that anything mlcli accepts MLflow accepts too.
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_INPUTS_PER_CALL = 1000


def validate_inputs(datasets: Sequence[DatasetInput], models: Sequence[ModelInput]) -> None:
    """InvalidInputError, naming the field, for anything a store must not keep."""
    if len(datasets) + len(models) > MAX_INPUTS_PER_CALL:
        raise InvalidInputError(
            f"at most {MAX_INPUTS_PER_CALL} inputs may be logged at once; "
            f"this call has {len(datasets) + len(models)}: split it"
        )
    for item in datasets:
        _validate_dataset(item.dataset)
        for key, value in item.tags.items():
            _text(key, "an input tag's key", MAX_INPUT_TAG_KEY_LENGTH, empty=False)
            _text(value, f"input tag {key!r}'s value", MAX_INPUT_TAG_VALUE_LENGTH)
    for model in models:
        _text(model.model_id, "a model input's model_id", 1000, empty=False)


def _validate_dataset(dataset: Dataset) -> None:
    _text(dataset.name, "a dataset's name", MAX_DATASET_NAME_LENGTH, empty=False)
    what = f"dataset {dataset.name!r}"
    _text(dataset.digest, f"{what}'s digest", MAX_DATASET_DIGEST_LENGTH, empty=False)
    _text(dataset.source_type, f"{what}'s source_type", 1000, empty=False)
    _text(dataset.source, f"{what}'s source", MAX_DATASET_SOURCE_LENGTH)
    if dataset.schema is not None:
        _text(dataset.schema, f"{what}'s schema", MAX_DATASET_SCHEMA_LENGTH)
    if dataset.profile is not None:
        _text(dataset.profile, f"{what}'s profile", MAX_DATASET_PROFILE_LENGTH)


def _text(value: object, what: str, limit: int, *, empty: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidInputError(f"invalid {what}: expected a string")
    if not empty and not value:
        raise InvalidInputError(f"invalid {what}: it must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"invalid {what}: longer than {limit} characters")


def new_inputs(
    existing: RunInputs, datasets: Iterable[DatasetInput], models: Iterable[ModelInput]
) -> tuple[list[DatasetInput], list[ModelInput]]:
    """The inputs a run does not have yet, each once, in the order given."""
    seen = {_identity(d) for d in existing.dataset_inputs}
    seen_models = {m.model_id for m in existing.model_inputs}
    fresh: list[DatasetInput] = []
    for item in datasets:
        if _identity(item) not in seen:
            seen.add(_identity(item))
            fresh.append(item)
    fresh_models: list[ModelInput] = []
    for model in models:
        if model.model_id not in seen_models:
            seen_models.add(model.model_id)
            fresh_models.append(model)
    return fresh, fresh_models


def input_lines(datasets: Iterable[DatasetInput], models: Iterable[ModelInput]) -> list[str]:
    """One line of ``inputs.jsonl`` per input, newline included."""
    lines = [_line(item.to_dict()) for item in datasets]
    lines += [_line({"model_id": model.model_id}) for model in models]
    return lines


def fold_inputs(records: Iterable[dict[str, Any]]) -> RunInputs:
    """A run's inputs from its log's records: the first line per dataset (name and
    digest) and per model; a line that is not an input is skipped."""
    inputs = RunInputs()
    seen: set[tuple[str, str]] = set()
    seen_models: set[str] = set()
    for record in records:
        item = dataset_input_from_dict(record)
        if item is not None:
            if _identity(item) not in seen:
                seen.add(_identity(item))
                inputs.dataset_inputs.append(item)
            continue
        model_id = record.get("model_id")
        if isinstance(model_id, str) and model_id and model_id not in seen_models:
            seen_models.add(model_id)
            inputs.model_inputs.append(ModelInput(model_id))
    return inputs


def dataset_input_from_dict(record: dict[str, Any]) -> DatasetInput | None:
    """``{"dataset": {...}, "tags": {...}}`` (as ``DatasetInput.to_dict`` writes it);
    None when it is not one."""
    shape = record.get("dataset")
    if not isinstance(shape, dict):
        return None
    fields = ("name", "digest", "source_type", "source")
    if not all(isinstance(shape.get(name), str) for name in fields):
        return None
    optional = {
        name: shape[name] for name in ("schema", "profile") if isinstance(shape.get(name), str)
    }
    tags = record.get("tags")
    dataset = Dataset(**{name: shape[name] for name in fields}, **optional)
    if not isinstance(tags, dict):
        tags = {}
    return DatasetInput(dataset, {str(k): str(v) for k, v in tags.items() if v is not None})


def _identity(item: DatasetInput) -> tuple[str, str]:
    return (item.dataset.name, item.dataset.digest)


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def as_dataset_input(item: Any) -> DatasetInput:
    """mlcli's ``DatasetInput``, or MLflow's (``mlflow.entities.DatasetInput``: tags as
    a list of ``InputTag``), as mlcli's."""
    dataset, tags = getattr(item, "dataset", None), getattr(item, "tags", None)
    if dataset is None:
        raise InvalidInputError(
            f"expected a DatasetInput (a dataset and its tags), not {type(item).__name__}"
        )
    if isinstance(tags, dict):
        pairs = dict(tags)
    else:
        pairs = {getattr(t, "key", None): getattr(t, "value", None) for t in tags or ()}
    return DatasetInput(as_dataset(dataset), pairs)  # the checks come with the write


def as_dataset(dataset: Any) -> Dataset:
    """mlcli's ``Dataset``, MLflow's entity, or an MLflow dataset object
    (``mlflow.data.from_pandas(...)``: it knows its own entity)."""
    if isinstance(dataset, Dataset):
        return dataset
    to_entity = getattr(dataset, "_to_mlflow_entity", None)
    if callable(to_entity):
        dataset = to_entity()
    fields = ("name", "digest", "source_type", "source")
    if not all(hasattr(dataset, name) for name in fields):
        raise InvalidInputError(
            f"expected a dataset (name, digest, source_type, source), not {type(dataset).__name__}"
        )
    return Dataset(
        name=dataset.name,
        digest=dataset.digest,
        source_type=dataset.source_type,
        source=dataset.source,
        schema=getattr(dataset, "schema", None),
        profile=getattr(dataset, "profile", None),
    )


def as_model_input(item: Any) -> ModelInput:
    """A ``ModelInput``, anything with a ``model_id`` (MLflow's ``LoggedModelInput``,
    a logged model), or the id itself."""
    if isinstance(item, ModelInput):
        return item
    model_id = item if isinstance(item, str) else getattr(item, "model_id", None)
    if not isinstance(model_id, str):
        raise InvalidInputError(f"expected a model input (a model id), not {item!r}")
    return ModelInput(model_id)
