"""XGBoost autologging: every ``xgboost.train`` and every ``fit`` of a scikit-learn API
model (``XGBClassifier``...) logs what MLflow's ``mlflow.xgboost.autolog`` logs, under
the same names:

- params: the booster params and ``train``'s other arguments (``num_boost_round``,
  ``early_stopping_rounds``, ``verbose_eval``, ``maximize``, ``custom_metric``);
- each iteration's evaluation metrics (``<eval name>-<metric>``, ``@`` written
  ``_at_``), step = iteration, written in batches rather than one call per point;
- with early stopping, ``stopped_iteration`` and ``best_iteration``, and the best
  iteration's metrics again at the step after the last;
- ``feature_importance_<type>.json`` for each importance type (``weight`` unless told)
  and, with matplotlib, MLflow's bar chart of it, ``feature_importance_<type>.png``;
- the model: the Booster, or the scikit-learn API model as its own class, with a
  signature from the first rows of the training data.

A scikit-learn API fit runs ``train`` inside it: that train logs into the fit's run,
and the fit logs the model. Only the outermost call of a nest is logged, counting
scikit-learn autologging's calls too (an ``XGBClassifier`` in a Pipeline is the
Pipeline's). Failing to log never fails the training: the reason is a warning on the
``mlcli`` logger. ``autolog(disable=True)`` puts the original functions back.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcli import system_tags
from mlcli.autologging.patching import Patches, wrap_method
from mlcli.autologging.runs import autolog_run
from mlcli.autologging.safety import safely
from mlcli.autologging.sklearn import _state as _sklearn_state
from mlcli.errors import ConflictError, InvalidInputError, MlcliError
from mlcli.store import MAX_PARAM_VALUE_LENGTH

FLAVOR = "xgboost"
MODEL_NAME = "model"
EXAMPLE_ROWS = 5
# train's arguments that are not logged as params (MLflow's list)
UNLOGGED_ARGUMENTS = frozenset(
    ("params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model", "callbacks")
)
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100
_EXAMPLE_ATTRIBUTE = "_mlcli_input_example"
_log = logging.getLogger("mlcli")


@dataclass(frozen=True)
class AutologConfig:
    importance_types: tuple[str, ...] = ("weight",)
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_models: bool = True
    model_format: str = "ubj"
    log_feature_importance_plots: bool = True


@dataclass
class _Fit:
    """A scikit-learn API fit under way: its first ``train`` logs into its run."""

    run_id: str
    trained: bool = False


class _Autolog:
    def __init__(self) -> None:
        self.config = AutologConfig()
        self.patches = Patches()
        self.fit: _Fit | None = None


_state = _Autolog()


def autolog(
    importance_types: Iterable[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    *,
    model_format: str = "ubj",
    log_feature_importance_plots: bool = True,
    max_tuning_runs: int | None = None,  # mlcli.autolog passes it to all; unused
) -> None:
    """Log every XGBoost training from now on (``disable=True``: stop, and restore the
    original functions). A training starts a run when none is active and ends it after.
    The options are those of :func:`mlcli.xgboost.autolog`."""
    if disable:
        _state.patches.restore_all()
        return
    from mlcli.models.flavors.xgboost import MODEL_FORMATS
    from mlcli.models.packages import require

    require("xgboost", "XGBoost autologging")
    if model_format not in MODEL_FORMATS:
        raise InvalidInputError(
            f"unknown model format {model_format!r}: expected one of {', '.join(MODEL_FORMATS)}"
        )
    types = ("weight",) if importance_types is None else tuple(importance_types)
    _state.config = AutologConfig(
        types,
        log_input_examples,
        log_model_signatures,
        log_models,
        model_format,
        log_feature_importance_plots,
    )
    if not _state.patches:
        _patch_library()


def is_enabled() -> bool:
    return bool(_state.patches)


def _patch_library() -> None:
    import xgboost
    import xgboost.sklearn
    import xgboost.training

    original = xgboost.training.train
    train = _logging_train(original)
    for module in (xgboost.training, xgboost, xgboost.sklearn):
        if module.__dict__.get("train") is original:
            _state.patches.replace(module, "train", train)  # type: ignore[arg-type]
    init = _example_keeping_init(xgboost.DMatrix.__dict__["__init__"])
    _state.patches.replace(xgboost.DMatrix, "__init__", init)
    for cls in _subclasses(xgboost.sklearn.XGBModel):
        if cls.__module__.startswith("xgboost.") and "fit" in cls.__dict__:
            patched = wrap_method(cls.__dict__["fit"], _logging_fit)
            if patched is not None:
                _state.patches.replace(cls, "fit", patched)


def _subclasses(root: type) -> Iterator[type]:
    stack, seen = [root], set()
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            yield cls
            stack.extend(cls.__subclasses__())


def _example_keeping_init(original: Callable[..., None]) -> Callable[..., None]:
    """``DMatrix.__init__`` keeping a copy of the data's first rows, for the model's
    signature and input example (a DMatrix cannot give its data back as it was)."""

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        data = args[0] if args else kwargs.get("data")
        config = _state.config
        if data is None or isinstance(data, str) or not config.log_models:
            return
        if config.log_input_examples or config.log_model_signatures:
            try:
                setattr(self, _EXAMPLE_ATTRIBUTE, copy.deepcopy(_head(data)))
            except Exception as exc:  # a kind of data without rows to slice: no example
                _log.debug("mlcli autolog: no input example: %s", exc)

    return __init__


def _head(data: Any) -> Any:
    return data.iloc[:EXAMPLE_ROWS] if hasattr(data, "iloc") else data[:EXAMPLE_ROWS]


def _logging_train(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)
    calls = _sklearn_state.calls  # one count with scikit-learn autologging

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        fit = _state.fit
        if fit is not None and not fit.trained:  # the training of a scikit-learn API fit
            fit.trained = True
            return _train_and_log(original, signature, args, kwargs, fit.run_id, False)
        if not calls.enter():
            try:
                return original(*args, **kwargs)
            finally:
                calls.exit()
        try:
            with autolog_run(FLAVOR) as run_id:
                log_model = _state.config.log_models
                return _train_and_log(original, signature, args, kwargs, run_id, log_model)
        finally:
            calls.exit()

    train.__mlcli_autolog__ = True  # type: ignore[attr-defined]
    return train


def _logging_fit(original: Any) -> Any:
    signature = inspect.signature(original)
    calls = _sklearn_state.calls

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        outermost = calls.enter()
        try:
            if not outermost:
                return original(self, *args, **kwargs)
            with autolog_run(FLAVOR) as run_id:
                _state.fit = _Fit(run_id)
                try:
                    result = original(self, *args, **kwargs)
                finally:
                    _state.fit = None
                if _state.config.log_models:
                    try:
                        X = signature.bind(self, *args, **kwargs).arguments.get("X")
                    except TypeError:
                        X = None
                    safely("the model", _log_estimator, run_id, self, X, _state.config)
                return result
        finally:
            calls.exit()

    fit.__mlcli_autolog__ = True  # type: ignore[attr-defined]
    return fit


def _train_and_log(
    original: Callable[..., Any],
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str,
    log_model: bool,
) -> Any:
    from mlcli import fluent

    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return original(*args, **kwargs)  # the user's mistake, as xgboost reports it
    bound.apply_defaults()
    arguments = bound.arguments
    config = _state.config
    client = fluent._session.get_client()
    safely("the params", _log_params, client, run_id, _train_params(arguments))
    recorder = _Recorder(client, run_id)
    arguments["callbacks"] = [*(arguments.get("callbacks") or ()), _callback(recorder)]
    booster = original(*bound.args, **bound.kwargs)
    if arguments.get("early_stopping_rounds") and recorder.results:
        safely("the early-stopping metrics", _early_stopping, recorder, booster)
    safely("the metrics", recorder.flush)
    importances = {}
    for kind in config.importance_types:
        importance = safely("the feature importance", _importance, booster, kind)
        if importance is not None:
            importances[kind] = importance
    # the rest from a copy, on the background thread: the caller may train it further
    snapshot = safely("the model", copy.deepcopy, booster) if log_model else None
    example = getattr(arguments.get("dtrain"), _EXAMPLE_ATTRIBUTE, None)

    def write(own_client: Any) -> None:
        for kind, importance in importances.items():
            safely("the feature importance", _log_importance, own_client, run_id, importance, kind)
        if snapshot is not None:
            safely("the model", _log_booster, own_client, run_id, snapshot, example, config)

    safely("the model", _after_training, client, run_id, write)
    return booster


def _after_training(client: Any, run_id: str, write: Callable[[Any], None]) -> None:
    """``write(client)`` on the background thread (with a client of its own) for a local
    store; at once for a team server or a remote's mirror. Run end, reads of the run and
    ``mlcli.flush()`` wait for it (:mod:`mlcli.tracking.background`)."""
    from mlcli.store import Store
    from mlcli.tracking.background import background_work

    if type(client.store) is not Store:
        write(client)
    else:
        background_work().submit(run_id, "the model", write, client.store.root)


def _train_params(arguments: dict[str, Any]) -> dict[str, Any]:
    params = arguments.get("params") or {}
    logged = dict(params.items() if hasattr(params, "items") else params)
    logged.update((k, v) for k, v in arguments.items() if k not in UNLOGGED_ARGUMENTS)
    return logged


def _log_params(client: Any, run_id: str, params: dict[str, Any]) -> None:
    from mlcli.store import validate_key

    clean = {}
    for key, value in params.items():
        try:
            clean[validate_key(str(key), "param key")] = _param_value(value)
        except MlcliError:
            continue
    items = list(clean.items())
    tags = {system_tags.AUTOLOGGING: FLAVOR}  # with the first batch: one write fewer
    for start in range(0, max(len(items), 1), _PARAMS_PER_BATCH):
        batch = dict(items[start : start + _PARAMS_PER_BATCH])
        try:
            client.log_batch(run_id, params=batch, tags=tags)
        except ConflictError:  # the run has some of these params with other values
            existing = client.get_run(run_id).data.params
            kept = {k: v for k, v in batch.items() if existing.get(k, v) == v}
            _log.warning(
                "mlcli autolog: run %s already has other values for %s; kept those",
                run_id[:8],
                ", ".join(sorted(set(batch) - set(kept))),
            )
            client.log_batch(run_id, params=kept, tags=tags)


def _param_value(value: Any) -> str:
    text = str(value)
    if len(text) <= MAX_PARAM_VALUE_LENGTH:
        return text
    return text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."


@dataclass
class _Recorder:
    """Each iteration's evaluation results, written to the run in batches."""

    client: Any
    run_id: str
    results: list[dict[str, float]] = field(default_factory=list)
    pending: list[tuple[str, float, int, int]] = field(default_factory=list)
    failed: bool = False

    def record(self, iteration: int, evals_log: dict[str, dict[str, list[Any]]]) -> None:
        now = int(time.time() * 1000)
        values = {
            f"{data_name}-{metric.replace('@', '_at_')}": float(history[-1])
            for data_name, metrics in evals_log.items()
            for metric, history in metrics.items()
        }
        self.results.append(values)
        self.pending.extend((key, value, iteration, now) for key, value in values.items())
        if len(self.pending) >= _METRICS_PER_BATCH:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if pending and not self.failed:
            self.client.log_batch(self.run_id, metrics=pending)


def _callback(recorder: _Recorder) -> Any:
    return _callback_class()(recorder)


@functools.cache
def _callback_class() -> type:
    import xgboost

    class MetricsCallback(xgboost.callback.TrainingCallback):
        def __init__(self, recorder: _Recorder) -> None:
            super().__init__()
            self.recorder = recorder

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if not self.recorder.failed:
                try:
                    self.recorder.record(epoch, evals_log)
                except Exception as exc:  # never stop the training for a metric
                    self.recorder.failed = True
                    _log.warning("mlcli autolog: the metrics not logged: %s", exc)
            return False

    return MetricsCallback


def _early_stopping(recorder: _Recorder, booster: Any) -> None:
    """As MLflow: the iteration training stopped at and the best one (step 0), and the
    best iteration's metrics at the step after the last (written with the last batch)."""
    now = int(time.time() * 1000)
    last = len(recorder.results)
    best = booster.best_iteration
    recorder.pending += [("stopped_iteration", last - 1, 0, now), ("best_iteration", best, 0, now)]
    recorder.pending += [(key, value, last, now) for key, value in recorder.results[best].items()]


def _importance(booster: Any, kind: str) -> dict[str, Any]:
    scores: dict[str, Any] = booster.get_score(importance_type=kind)
    return scores


def _log_importance(client: Any, run_id: str, importance: dict[str, Any], kind: str) -> None:
    client.log_text(run_id, json.dumps(importance), f"feature_importance_{kind}.json")
    if importance and _state.config.log_feature_importance_plots:
        safely("the feature importance plot", _log_plot, client, run_id, importance, kind)


def _log_plot(client: Any, run_id: str, importance: dict[str, Any], kind: str) -> None:
    """MLflow's horizontal bar chart, least important at the bottom; one bar per class
    and feature where XGBoost gives a value per class (a linear booster's weights).
    Drawn on a Figure of its own, not through pyplot: the user's backend and figures
    are left alone, and it is safe on the background thread."""
    from mlcli.models.packages import require

    require("matplotlib", "the feature importance plot")
    import numpy as np
    from matplotlib.figure import Figure

    features = np.array(list(importance))
    values = np.array(list(importance.values()), dtype=float).reshape(len(features), -1)
    order = np.argsort(np.abs(values).sum(axis=1))
    features, values = features[order], values[order]
    classes = values.shape[1]
    height = 4.8 + (0.1 * len(features) if len(features) > 10 else 0)
    height += 0.1 * classes if classes > 1 else 0
    fig = Figure(figsize=(6.4, height))
    ax = fig.subplots()
    offsets = np.linspace(-0.25, 0.25, classes) if classes > 1 else [0.0]
    rows = np.arange(len(features))
    for index, offset in enumerate(offsets):
        label = f"Class {index}" if classes > 1 else None
        ax.barh(rows + offset, values[:, index], height=0.5 / max(classes - 1, 1), label=label)
    ax.set_yticks(rows)
    ax.set_yticklabels(features)
    ax.set_xlabel("Importance")
    ax.set_title(f"Feature Importance ({kind})")
    if classes > 1:
        ax.legend()
    fig.tight_layout()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"feature_importance_{kind}.png"
        fig.savefig(path)
        client.log_artifact(run_id, path)


def _log_booster(
    client: Any, run_id: str, booster: Any, example: Any, config: AutologConfig
) -> None:
    from mlcli.models.log import log_model

    signature: Any = False
    if example is not None and config.log_model_signatures:
        signature = _signature(example, lambda data: _booster_predict(booster, data))
    log_model(
        booster,
        MODEL_NAME,
        flavor=FLAVOR,
        run_id=run_id,
        client=client,
        signature=signature,
        input_example=example if config.log_input_examples else None,
        model_format=config.model_format,
    )


def _log_estimator(run_id: str, estimator: Any, X: Any, config: AutologConfig) -> None:
    """Log a copy of the fitted scikit-learn API model and of the first rows of ``X``
    (the caller may refit it or change the data as soon as ``fit`` returns)."""
    from mlcli import fluent

    snapshot = copy.deepcopy(estimator)
    example = copy.deepcopy(_head(X)) if X is not None else None

    def write(client: Any) -> None:
        from mlcli.models.log import log_model

        signature: Any = False
        if example is not None and config.log_model_signatures:
            signature = _signature(example, snapshot.predict)
        log_model(
            snapshot,
            MODEL_NAME,
            flavor=FLAVOR,
            run_id=run_id,
            client=client,
            signature=signature,
            input_example=example if config.log_input_examples else None,
            model_format=config.model_format,
        )

    _after_training(fluent._session.get_client(), run_id, write)


def _booster_predict(booster: Any, data: Any) -> Any:
    """``booster.predict(DMatrix(data))``, without building a DMatrix where XGBoost
    predicts in place (arrays and frames; a DMatrix costs tens of ms on a busy machine)."""
    import xgboost

    try:
        return booster.inplace_predict(data)
    except (TypeError, ValueError, xgboost.core.XGBoostError):
        return booster.predict(xgboost.DMatrix(data))


def _signature(example: Any, predict: Callable[[Any], Any]) -> Any:
    """The signature from the example and the model's output on it; False (none) for
    data that signatures do not describe (a sparse matrix)."""
    from mlcli.models.signature_inference import infer_signature

    try:
        return infer_signature(example, predict(example))
    except (MlcliError, ValueError, TypeError) as exc:
        _log.info("mlcli autolog: no signature: %s", exc)
        return False
