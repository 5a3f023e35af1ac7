"""scikit-learn autologging: ``fit`` (and ``fit_transform``, ``fit_predict``) of every
scikit-learn estimator logs the estimator's params, its training metrics, the
fitted model with its signature, and tags naming its class.

The methods are replaced on the classes that define them; classes defined later
(a module imported after ``autolog()``) are patched as they are created, through
``BaseEstimator.__init_subclass__``, so enabling costs no import of the whole
library. Only the outermost patched call of a nest is logged (a Pipeline's steps and
a search's candidates run inside it). ``autolog(disable=True)`` puts every original
method back, the same objects. Failing to log never fails the fit: the reason is
logged as a warning on the ``mlcli`` logger.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from types import FunctionType
from typing import Any

from mlcli import system_tags
from mlcli.autologging.patching import OutermostCall, Patches, wrap_method
from mlcli.autologging.runs import autolog_run
from mlcli.autologging.safety import safely
from mlcli.autologging.snapshot import copied, copied_training_data, snapshot
from mlcli.errors import ConflictError, MlcliError
from mlcli.store import MAX_PARAM_VALUE_LENGTH
from mlcli.tracking.background import background_work

FLAVOR = "sklearn"
PATCHED_METHODS = ("fit", "fit_transform", "fit_predict")
MODEL_NAME = "model"
BEST_ESTIMATOR_NAME = "best_estimator"
EXAMPLE_ROWS = 5
_PARAMS_PER_BATCH = 100
_log = logging.getLogger("mlcli")


@dataclass(frozen=True)
class AutologConfig:
    log_models: bool = True
    log_input_examples: bool = False
    max_tuning_runs: int | None = 5
    serialization_format: str = "skops"


class _Autolog:
    def __init__(self) -> None:
        self.config = AutologConfig()
        self.patches = Patches()
        self.calls = OutermostCall()


_state = _Autolog()


def autolog(
    log_models: bool = True,
    log_input_examples: bool = False,
    max_tuning_runs: int | None = 5,
    disable: bool = False,
    *,
    serialization_format: str = "skops",
) -> None:
    """Log every scikit-learn ``fit`` from now on (``disable=True``: stop, and restore
    the original methods). A fit starts a run when none is active and ends it after.

    ``log_models``: log the fitted estimator as the run's ``model`` (a search also
    logs ``best_estimator``); ``log_input_examples``: with the first rows of the
    training data as its input example; ``max_tuning_runs``: how many of a search's
    best candidates get a child run (None: all)."""
    if disable:
        _state.patches.restore_all()
        return
    from mlcli.models.packages import require

    require("sklearn.base", "scikit-learn autologging")
    _state.config = AutologConfig(
        log_models, log_input_examples, max_tuning_runs, serialization_format
    )
    if not _state.patches:
        _patch_library()


def is_enabled() -> bool:
    return bool(_state.patches)


def _patch_library() -> None:
    from sklearn.base import BaseEstimator

    for cls in _subclasses(BaseEstimator):
        _patch_class(cls)
    original = BaseEstimator.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        if original is not None:
            original.__get__(None, cls)(**kwargs)
        else:
            super(BaseEstimator, cls).__init_subclass__(**kwargs)
        _patch_class(cls)

    _state.patches.replace(BaseEstimator, "__init_subclass__", classmethod(__init_subclass__))


def _subclasses(root: type) -> Iterator[type]:
    seen: set[type] = set()
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            yield cls
            stack.extend(cls.__subclasses__())


def _patch_class(cls: type) -> None:
    """Patch the methods ``cls`` itself defines, if it is scikit-learn's own class
    (subclasses of it inherit the patched methods)."""
    if not cls.__module__.startswith("sklearn."):
        return
    for name in PATCHED_METHODS:
        if name in cls.__dict__:
            patched = wrap_method(cls.__dict__[name], _logging_fit)
            if patched is not None:
                _state.patches.replace(cls, name, patched)


def _logging_fit(original: FunctionType) -> FunctionType:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if background_work().is_current():  # the thread's own fits (a metric's encoder)
            return original(self, *args, **kwargs)
        outermost = _state.calls.enter()
        try:
            if not outermost:
                return original(self, *args, **kwargs)
            return _fit_and_log(original, signature, self, args, kwargs)
        finally:
            _state.calls.exit()

    fit.__mlcli_autolog__ = True  # type: ignore[attr-defined]
    return fit  # type: ignore[return-value]


def _fit_and_log(
    original: FunctionType,
    signature: inspect.Signature,
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    config = _state.config
    with autolog_run(FLAVOR) as run_id:
        result = original(estimator, *args, **kwargs)
        try:
            bound = signature.bind(estimator, *args, **kwargs).arguments
        except TypeError:
            bound = {}
        X, y = bound.get("X"), bound.get("y", bound.get("Y"))
        weight = bound.get("sample_weight", (bound.get("params") or {}).get("sample_weight"))
        _log_fitted(run_id, estimator, X, y, weight, config)
        return result


def _log_fitted(
    run_id: str, estimator: Any, X: Any, y: Any, weight: Any, config: AutologConfig
) -> None:
    from mlcli import fluent
    from mlcli.autologging.sklearn_metrics import training_metrics
    from mlcli.autologging.sklearn_search import is_search, log_search

    client = fluent._session.get_client()
    if X is not None and not is_search(estimator) and _on_thread(client):
        data = copied_training_data([X, y, weight])
        if data is not None:
            safely("the params and tags", _log_params_and_tags, client, run_id, estimator, {})
            safely("the metrics and model", _log_later, client, run_id, estimator, data, config)
            return
    metrics: dict[str, float] = {}
    predictions = None
    if X is not None:
        computed = safely("the training metrics", training_metrics, estimator, X, y, weight)
        metrics, predictions = computed or ({}, None)
    safely("the params and tags", _log_params_and_tags, client, run_id, estimator, metrics)
    if is_search(estimator):
        safely(
            "the search results",
            log_search,
            client,
            run_id,
            estimator,
            config.max_tuning_runs,
            _param_value,
            estimator_tags,
        )
    if config.log_models and X is not None:
        safely(
            "the model", _log_model, client, run_id, estimator, X, predictions, MODEL_NAME, config
        )
        best = getattr(estimator, "best_estimator_", None)
        if best is not None and is_search(estimator):
            safely(
                "the best estimator",
                _log_model,
                client,
                run_id,
                best,
                X,
                predictions,
                BEST_ESTIMATOR_NAME,
                config,
            )


def _on_thread(client: Any) -> bool:
    """Whether the model (and the metrics) are logged on the background thread: with
    a local store (a team server's or a remote's is written before ``fit`` returns)."""
    from mlcli.store import Store

    return type(client.store) is Store


def _log_later(
    client: Any, run_id: str, estimator: Any, data: list[Any], config: AutologConfig
) -> None:
    """The training metrics and the model, from copies, on the background thread."""
    from mlcli.autologging.sklearn_metrics import training_metrics

    copy_of = snapshot(estimator)
    X, y, weight = data
    made: dict[str, Any] = {}

    def log_metrics(own: Any) -> None:
        model = made["model"] = copy_of()
        metrics, made["predictions"] = training_metrics(model, X, y, weight)
        own.log_batch(run_id, metrics=[(k, v, 0) for k, v in metrics.items()])

    def log_model(own: Any) -> None:
        model = made.get("model") or copy_of()
        method = _model_method(model)
        if method is not None:
            output = _output_head(method, made.get("predictions"))
            _write_model(own, run_id, model, _head(X), output, method, MODEL_NAME, config)

    work = background_work()
    work.submit(run_id, "the training metrics", log_metrics, client.store.root)
    if config.log_models:
        work.submit(run_id, "the model", log_model, client.store.root)


def estimator_tags(estimator: Any) -> dict[str, str]:
    """``estimator_name`` and ``estimator_class`` (MLflow's names)."""
    cls = type(estimator)
    return {
        "estimator_name": cls.__name__,
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}",
    }


def _log_params_and_tags(
    client: Any, run_id: str, estimator: Any, metrics: dict[str, float]
) -> None:
    from mlcli.store import validate_key

    params = {}
    for key, value in estimator.get_params(deep=True).items():
        try:
            params[validate_key(key, "param key")] = _param_value(value)
        except MlcliError:
            continue
    tags = {**estimator_tags(estimator), system_tags.AUTOLOGGING: FLAVOR}
    client.log_batch(run_id, metrics=[(k, v, 0) for k, v in metrics.items()], tags=tags)
    items = list(params.items())
    for start in range(0, len(items), _PARAMS_PER_BATCH):
        batch = dict(items[start : start + _PARAMS_PER_BATCH])
        try:
            client.log_batch(run_id, params=batch)
        except ConflictError:  # the run has some of these params with other values
            existing = client.get_run(run_id).data.params
            kept = {k: v for k, v in batch.items() if existing.get(k, v) == v}
            _log.warning(
                "mlcli autolog: run %s already has other values for %s; kept those",
                run_id[:8],
                ", ".join(sorted(set(batch) - set(kept))),
            )
            client.log_batch(run_id, params=kept)


def _param_value(value: Any) -> str:
    text = str(value)
    return (
        text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    )


def _log_model(
    client: Any,
    run_id: str,
    estimator: Any,
    X: Any,
    predictions: Any,
    name: str,
    config: AutologConfig,
) -> None:
    """Log the model: to a local store on the background thread, from a snapshot
    taken now (the caller may refit or change the estimator and its data as soon as
    ``fit`` returns); to a team server or a remote's mirror before ``fit`` returns."""
    method = _model_method(estimator)
    if method is None:
        return
    output = _output_head(method, predictions)
    if not _on_thread(client):
        _write_model(client, run_id, estimator, _head(X), output, method, name, config)
        return
    copy_of, sample = snapshot(estimator), copied(_head(X))

    def write(own_client: Any) -> None:
        _write_model(own_client, run_id, copy_of(), sample, output, method, name, config)

    background_work().submit(run_id, f"the {name.replace('_', ' ')}", write, client.store.root)


def _model_method(estimator: Any) -> str | None:
    method = next((m for m in ("predict", "transform") if hasattr(estimator, m)), None)
    if method is None:
        _log.info("mlcli autolog: %s has no predict or transform; not logged", type(estimator))
    return method


def _output_head(method: str, predictions: Any) -> Any:
    """The training predictions (made for the metrics) give the output schema without
    predicting again."""
    return _head(predictions) if method == "predict" and predictions is not None else None


def _write_model(
    client: Any,
    run_id: str,
    estimator: Any,
    sample: Any,
    output: Any,
    method: str,
    name: str,
    config: AutologConfig,
) -> None:
    from mlcli.models.log import log_model

    log_model(
        estimator,
        name,
        flavor=FLAVOR,
        run_id=run_id,
        client=client,
        signature=_signature(estimator, method, sample, output),
        input_example=sample if config.log_input_examples else None,
        serialization_format=config.serialization_format,
        pyfunc_predict_fn=method,
    )


def _head(data: Any) -> Any:
    return data.iloc[:EXAMPLE_ROWS] if hasattr(data, "iloc") else data[:EXAMPLE_ROWS]


def _signature(estimator: Any, method: str, sample: Any, output: Any) -> Any:
    """The signature from a few rows and the model's output on them; False (none)
    when the data is of a kind signatures do not describe (a sparse matrix)."""
    from mlcli.models.signature_inference import infer_signature

    try:
        if output is None:
            output = getattr(estimator, method)(sample)
        return infer_signature(sample, output)
    except (MlcliError, ValueError, TypeError) as exc:
        _log.info("mlcli autolog: no signature: %s", exc)
        return False
