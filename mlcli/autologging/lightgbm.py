"""LightGBM autologging: ``lightgbm.train`` and the ``fit`` of its scikit-learn API log
what MLflow's ``mlflow.lightgbm.autolog`` logs, under MLflow's names.

- params: the booster's ``params`` and ``train``'s other arguments (``num_boost_round``,
  ``keep_training_booster``), in batches;
- metrics: ``<valid name>-<metric>`` at each iteration (step = iteration, from 0),
  gathered during training and written in batches after it (``@`` becomes ``_at_``);
  with early stopping, ``best_iteration`` and ``stopped_iteration``, and the best
  iteration's metrics again at step ``stopped_iteration``;
- artifacts: ``feature_importance_{split,gain}.json`` and, with matplotlib,
  ``feature_importance_{split,gain}.png``;
- the model, ``model``: the Booster from ``train``, the estimator from ``fit``, with a
  signature from the first rows of the training data (and those rows as its input
  example with ``log_input_examples``).

``lightgbm.train`` and ``lightgbm.sklearn.train`` (which ``fit`` calls) are replaced in
their modules, and ``fit`` on LightGBM's estimator classes; ``disable=True`` puts the
originals back. Code that imported ``train`` by name before ``autolog()`` keeps the
original, as with MLflow. Failing to log never fails the training.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any, cast

from mlcli import system_tags
from mlcli.autologging.patching import Patches
from mlcli.autologging.runs import autolog_run
from mlcli.autologging.safety import safely
from mlcli.autologging.sklearn import _state as _sklearn_state
from mlcli.errors import ConflictError, MlcliError
from mlcli.store import MAX_BATCH_ITEMS, MAX_PARAM_VALUE_LENGTH

FLAVOR = "lightgbm"
MODEL_NAME = "model"
EXAMPLE_ROWS = 5
IMPORTANCE_TYPES = ("split", "gain")
# train's arguments that are not params (MLflow's list)
UNLOGGED_ARGUMENTS = frozenset(
    {"params", "train_set", "valid_sets", "valid_names", "fobj", "feval", "init_model"}
    | {"learning_rates", "callbacks"}
)
ESTIMATOR_CLASSES = ("LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")
_log = logging.getLogger("mlcli")


@dataclass(frozen=True)
class AutologConfig:
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_models: bool = True
    log_feature_importance_plots: bool = True
    serialization_format: str = "skops"


class _Autolog:
    def __init__(self) -> None:
        self.config = AutologConfig()
        self.patches = Patches()
        # one count with scikit-learn autologging: an LGBMClassifier in a Pipeline is the
        # Pipeline's step (not logged on its own), and the scikit-learn objects LightGBM
        # fits inside its own fit (a LabelEncoder) are not logged either
        self.calls = _sklearn_state.calls
        self.local = threading.local()  # fit_run: the run of the fit under way here


_state = _Autolog()


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    *,
    log_feature_importance_plots: bool = True,
    serialization_format: str = "skops",
    max_tuning_runs: int | None = None,
) -> None:
    """Log every LightGBM training from now on (``disable=True``: stop). A training
    starts a run when none is active and ends it after. ``max_tuning_runs`` is taken
    for :func:`mlcli.autolog` and means nothing here."""
    if disable:
        _state.patches.restore_all()
        return
    from mlcli.models.packages import require

    lightgbm = require("lightgbm", "LightGBM autologging")
    _state.config = AutologConfig(
        log_input_examples,
        log_model_signatures,
        log_models,
        log_feature_importance_plots,
        serialization_format,
    )
    if not _state.patches:
        _patch(lightgbm)


def is_enabled() -> bool:
    return bool(_state.patches)


def _patch(lightgbm: ModuleType) -> None:
    import lightgbm.sklearn

    original_train = lightgbm.engine.train
    for module in (lightgbm, lightgbm.sklearn):
        _state.patches.replace(cast(type, module), "train", _logging_train(original_train))
    for name in ESTIMATOR_CLASSES:
        cls = getattr(lightgbm.sklearn, name, None)
        if isinstance(cls, type) and isinstance(cls.__dict__.get("fit"), FunctionType):
            _state.patches.replace(cls, "fit", _logging_fit(cls.__dict__["fit"]))


def _logging_train(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        fit_run = getattr(_state.local, "fit_run", None)
        if fit_run is not None:  # inside fit: its run, and fit logs the estimator
            return _train_and_log(original, signature, args, kwargs, fit_run, log_model=False)
        outermost = _state.calls.enter()
        try:
            if not outermost:
                return original(*args, **kwargs)
            with autolog_run(FLAVOR) as run_id:
                return _train_and_log(original, signature, args, kwargs, run_id, log_model=True)
        finally:
            _state.calls.exit()

    return train


def _logging_fit(original: FunctionType) -> FunctionType:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        outermost = _state.calls.enter()
        try:
            if not outermost:
                return original(self, *args, **kwargs)
            with autolog_run(FLAVOR) as run_id:
                _state.local.fit_run = run_id
                try:
                    result = original(self, *args, **kwargs)
                finally:
                    _state.local.fit_run = None
                if _state.config.log_models:
                    try:
                        X = signature.bind(self, *args, **kwargs).arguments.get("X")
                    except TypeError:
                        X = None
                    safely("the model", _log_estimator, run_id, self, X)
                return result
        finally:
            _state.calls.exit()

    return fit  # type: ignore[return-value]


def _train_and_log(
    original: Callable[..., Any],
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run_id: str,
    *,
    log_model: bool,
) -> Any:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return original(*args, **kwargs)  # let lightgbm say what is wrong
    bound.apply_defaults()
    arguments = bound.arguments
    safely("the params", _log_params, run_id, arguments)
    # the first rows of the training data, before training frees them
    sample = safely("the input example", _sample, arguments.get("train_set"))
    results: list[dict[str, float]] = []
    arguments["callbacks"] = [*(arguments.get("callbacks") or []), _Recorder(results)]
    booster = original(*bound.args, **bound.kwargs)
    safely("the metrics", _log_metrics, run_id, booster, results)
    importances = safely("the feature importance", _importances, booster) or {}
    # The rest on the background thread. A Booster that train() kept for training may
    # be trained further by the caller: its text is taken now. Otherwise train() gave
    # back a Booster rebuilt from its text, which nothing trains further: the thread
    # takes its text (LightGBM's lock lets the caller predict meanwhile).
    text: str | None = None
    frozen: Any = None
    if log_model and _state.config.log_models:
        if arguments.get("keep_training_booster"):
            text = safely("the model", booster.model_to_string)
        else:
            frozen = booster

    def write(client: Any) -> None:
        nonlocal text
        if frozen is not None:
            text = safely("the model", frozen.model_to_string)
        for kind, (features, importance) in importances.items():
            safely(
                "the feature importance",
                _log_importance,
                client,
                run_id,
                features,
                importance,
                kind,
            )
        if text is not None:
            safely("the model", _log_booster, client, run_id, text, sample)

    safely("the model", _after_training, run_id, write)
    return booster


class _Recorder:
    """A LightGBM callback keeping each iteration's evaluation results (MLflow's names).
    Without an ``order`` of its own, LightGBM runs it before early stopping, which
    raises at the last iteration: that iteration is recorded too, as in MLflow."""

    def __init__(self, results: list[dict[str, float]]) -> None:
        self.results = results

    def __call__(self, env: Any) -> None:
        self.results.append(
            {
                f"{data}-{metric}".replace("@", "_at_"): float(value)
                for data, metric, value, *_ in env.evaluation_result_list or ()
            }
        )


def _log_params(run_id: str, arguments: dict[str, Any]) -> None:
    from mlcli import fluent
    from mlcli.store import validate_key

    client = fluent._session.get_client()
    raw = dict(arguments.get("params") or {})
    raw.update((k, v) for k, v in arguments.items() if k not in UNLOGGED_ARGUMENTS)
    params = {}
    for key, value in raw.items():
        try:
            params[validate_key(str(key), "param key")] = _param_value(value)
        except MlcliError:
            continue
    client.set_tag(run_id, system_tags.AUTOLOGGING, FLAVOR)
    try:
        client.log_batch(run_id, params=params)
    except ConflictError:  # the run has some with other values: keep those
        existing = client.get_run(run_id).data.params
        client.log_batch(
            run_id, params={k: v for k, v in params.items() if existing.get(k, v) == v}
        )


def _param_value(value: Any) -> str:
    text = str(value)
    limit = MAX_PARAM_VALUE_LENGTH
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _log_metrics(run_id: str, booster: Any, results: list[dict[str, float]]) -> None:
    from mlcli import fluent

    metrics = [(k, v, step) for step, values in enumerate(results) for k, v in values.items()]
    best = getattr(booster, "best_iteration", 0) or 0
    if best > 0 and results:  # early stopping: MLflow's extra step after the last
        stopped = len(results)
        metrics += [("stopped_iteration", stopped, 0), ("best_iteration", best, 0)]
        metrics += [(k, v, stopped) for k, v in results[min(best, stopped) - 1].items()]
    client = fluent._session.get_client()
    for start in range(0, len(metrics), MAX_BATCH_ITEMS):
        client.log_batch(run_id, metrics=metrics[start : start + MAX_BATCH_ITEMS])


def _importances(booster: Any) -> dict[str, tuple[list[str], Any]]:
    features = booster.feature_name()
    return {k: (features, booster.feature_importance(importance_type=k)) for k in IMPORTANCE_TYPES}


def _log_importance(
    client: Any, run_id: str, features: list[str], importance: Any, kind: str
) -> None:
    values = dict(zip(features, importance.tolist(), strict=False))
    client.log_text(run_id, json.dumps(values, indent=2), f"feature_importance_{kind}.json")
    if _state.config.log_feature_importance_plots:
        safely("the feature importance plot", _log_plot, client, run_id, features, importance, kind)


def _log_plot(client: Any, run_id: str, features: list[str], importance: Any, kind: str) -> None:
    """MLflow's horizontal bar chart, least important at the bottom. Drawn on a Figure
    of its own, not through pyplot: the user's backend and figures are left alone, and
    it is safe on the background thread."""
    from mlcli.models.packages import require

    require("matplotlib", "the feature importance plot")
    import numpy as np
    from matplotlib.figure import Figure

    order = np.argsort(importance)
    height = 4.8 + (0.1 * len(features) if len(features) > 10 else 0)
    fig = Figure(figsize=(6.4, height))
    ax = fig.subplots()
    ax.barh(np.arange(len(features)), importance[order], align="center", height=0.5)
    ax.set_yticks(np.arange(len(features)))
    ax.set_yticklabels(np.array(features)[order])
    ax.set_xlabel("Importance")
    ax.set_title(f"Feature Importance ({kind})")
    fig.tight_layout()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"feature_importance_{kind}.png"
        fig.savefig(path)
        client.log_artifact(run_id, path)


def _after_training(run_id: str, write: Callable[[Any], None]) -> None:
    """``write(client)`` on the background thread (with a client of its own) for a local
    store; at once for a team server or a remote's mirror. Run end, reads of the run and
    ``mlcli.flush()`` wait for it (:mod:`mlcli.tracking.background`)."""
    from mlcli import fluent
    from mlcli.store import Store
    from mlcli.tracking.background import background_work

    client = fluent._session.get_client()
    if type(client.store) is not Store:
        write(client)
    else:
        background_work().submit(run_id, "the model", write, client.store.root)


def _log_booster(client: Any, run_id: str, text: str, sample: Any) -> None:
    import lightgbm

    _log_model(client, run_id, lightgbm.Booster(model_str=text), sample)


def _log_estimator(run_id: str, estimator: Any, X: Any) -> None:
    """Log a copy of the fitted estimator and of the first rows of ``X`` (the caller may
    refit it or change the data as soon as ``fit`` returns)."""
    snapshot = copy.deepcopy(estimator)
    sample = safely("the input example", lambda: copy.deepcopy(_head(X)))
    _after_training(
        run_id, lambda client: safely("the model", _log_model, client, run_id, snapshot, sample)
    )


def _log_model(client: Any, run_id: str, model: Any, sample: Any) -> None:
    from mlcli.models.log import log_model

    config = _state.config
    signature: Any = False
    if sample is not None and config.log_model_signatures:
        signature = _signature(model, sample)
    log_model(
        model,
        MODEL_NAME,
        flavor=FLAVOR,
        run_id=run_id,
        client=client,
        signature=signature,
        input_example=sample if config.log_input_examples else None,
        serialization_format=config.serialization_format,
    )


def _signature(model: Any, sample: Any) -> Any:
    """The signature from a few rows and the model's output on them; False (none)
    when the data is of a kind signatures do not describe (a sparse matrix)."""
    from mlcli.models.signature_inference import infer_signature

    try:
        return infer_signature(sample, model.predict(sample))
    except (MlcliError, ValueError, TypeError) as exc:
        _log.info("mlcli autolog: no signature: %s", exc)
        return False


def _sample(train_set: Any) -> Any:
    return copy.deepcopy(_head(getattr(train_set, "data", None)))


def _head(data: Any) -> Any:
    """The first rows of training data, or None for what has no rows (a file name)."""
    if data is None or isinstance(data, (str, Path)):
        return None
    try:
        return data.iloc[:EXAMPLE_ROWS] if hasattr(data, "iloc") else data[:EXAMPLE_ROWS]
    except (TypeError, IndexError, KeyError):
        return None
