"""Keras autologging: every ``keras.Model.fit`` logs its params, the optimizer's
config, the metrics of each epoch, early stopping and the trained model.

Names as MLflow's ``mlflow.keras.autolog()``: ``fit``'s arguments (``epochs``,
``batch_size``, ``validation_split``...; not the data, ``callbacks`` nor ``verbose``),
``optimizer_<key>`` for each entry of the optimizer's config (``optimizer_name``,
``optimizer_learning_rate``...), the epoch's logs (``loss``, ``val_loss``...) at the
epoch as step, ``validation_<metric>`` for each validation, ``model_summary.txt``, and
the model as ``model`` with a tensor signature from the model's inputs. An
``EarlyStopping`` callback adds, as ``mlflow.tensorflow`` does, its params (``monitor``,
``min_delta``, ``patience``, ``baseline``, ``restore_best_weights``) and, when it
stopped training, the ``stopped_epoch`` and ``restored_epoch`` metrics, with the restored
epoch's metrics logged again at step ``stopped_epoch + 1`` (the model that was kept).

Metrics are buffered and written in one batch at most every second and at the end of
training. For a local store, the model's .keras bytes are taken when ``fit`` ends and
the model is written from them on a background thread (:mod:`mlcli.tracking.background`),
unless it has custom layers (written before ``fit`` returns, from the model itself).
``fit`` is replaced on ``keras.Model`` when Keras is imported (at once if it already
is): enabling autologging never imports Keras and its backend. Failing to log
never fails the fit: the reason is a warning on the ``mlcli`` logger.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import inspect
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlcli import system_tags
from mlcli.autologging.epoch_metrics import EpochMetrics
from mlcli.autologging.patching import OutermostCall, Patches
from mlcli.autologging.runs import autolog_run
from mlcli.autologging.safety import safely
from mlcli.store import MAX_PARAM_VALUE_LENGTH

FLAVOR = "keras"
MODEL_NAME = "model"
SUMMARY_FILE = "model_summary.txt"
UNLOGGED_ARGUMENTS = ("self", "x", "y", "callbacks", "validation_data", "verbose")
EARLY_STOPPING_PARAMS = ("monitor", "min_delta", "patience", "baseline", "restore_best_weights")
EXAMPLE_ROWS = 5
_log = logging.getLogger("mlcli")


@dataclass(frozen=True)
class AutologConfig:
    log_every_epoch: bool = True
    log_models: bool = True
    log_model_signatures: bool = True
    log_input_examples: bool = False
    registered_model_name: str | None = None
    save_model_kwargs: Mapping[str, Any] | None = None


class _Autolog:
    def __init__(self) -> None:
        self.config = AutologConfig()
        self.patches = Patches()
        self.calls = OutermostCall()
        self.hook: _AfterImport | None = None


_state = _Autolog()


def autolog(
    log_every_epoch: bool = True,
    log_models: bool = True,
    log_model_signatures: bool = True,
    log_input_examples: bool = False,
    disable: bool = False,
    registered_model_name: str | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    max_tuning_runs: int | None = None,  # mlcli.autolog()'s, for scikit-learn only
) -> None:
    """Log every ``keras.Model.fit`` from now on (``disable=True``: stop, and restore
    ``fit``). A fit starts a run when none is active and ends it after."""
    if disable:
        _state.patches.restore_all()
        _remove_hook()
        return
    _state.config = AutologConfig(
        log_every_epoch,
        log_models,
        log_model_signatures,
        log_input_examples,
        registered_model_name,
        dict(save_model_kwargs) if save_model_kwargs else None,
    )
    if _state.patches or _state.hook is not None:
        return
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "Model"):
        _patch(keras)
    else:
        _state.hook = _AfterImport("keras", _patch)
        sys.meta_path.insert(0, _state.hook)


def is_enabled() -> bool:
    return bool(_state.patches) or _state.hook is not None


def _remove_hook() -> None:
    if _state.hook is not None and _state.hook in sys.meta_path:
        sys.meta_path.remove(_state.hook)
    _state.hook = None


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback(module)`` once the module ``name`` has been imported: it finds the
    module's spec with the other finders and wraps its loader."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
                spec.loader = _ThenLoader(spec.loader, self._loaded)
                return spec
        return None

    def _loaded(self, module: ModuleType) -> None:
        _remove_hook()
        self.callback(module)


class _ThenLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, then: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.then = then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.then(module)

    def __getattr__(self, name: str) -> Any:  # the rest (resources, get_code...) as before
        return getattr(self.loader, name)


def _patch(keras: ModuleType) -> None:
    original = keras.Model.fit
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        outermost = _state.calls.enter()
        try:
            if not outermost:
                return original(self, *args, **kwargs)
            return _fit_and_log(original, signature, self, args, kwargs)
        finally:
            _state.calls.exit()

    fit.__mlcli_autolog__ = True  # type: ignore[attr-defined]
    _state.patches.replace(keras.Model, "fit", fit)


def _fit_and_log(
    original: Callable[..., Any],
    signature: inspect.Signature,
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    from mlcli import fluent

    config = _state.config
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return original(model, *args, **kwargs)  # Keras will say what is wrong
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    with autolog_run(FLAVOR) as run_id:
        client = fluent._session.get_client()
        callbacks = list(arguments.get("callbacks") or [])
        early = _early_stopping(callbacks)
        safely("the params", _log_params, client, run_id, arguments, early)
        logger = _make_callback(client, run_id, config)
        arguments["callbacks"] = [*callbacks, logger]
        arguments.pop("self")
        try:
            history = original(model, **arguments)
        finally:
            safely("the metrics", logger.metrics.flush)
        safely("early stopping", _log_early_stopping, client, run_id, early, history)
        if config.log_models:
            safely("the model", _log_model, client, run_id, model, arguments.get("x"), config)
        return history


def _log_params(client: Any, run_id: str, arguments: dict[str, Any], early: Any) -> None:
    params = {k: v for k, v in arguments.items() if k not in UNLOGGED_ARGUMENTS}
    if params.get("batch_size") is None:
        inferred = getattr(arguments.get("x"), "batch_size", None)  # a dataset's
        if isinstance(inferred, int):
            params["batch_size"] = inferred
    if early is not None:
        params.update({k: getattr(early, k, None) for k in EARLY_STOPPING_PARAMS})
    client.log_batch(
        run_id,
        params={k: _param_value(v) for k, v in params.items()},
        tags={system_tags.AUTOLOGGING: FLAVOR},
    )


def _param_value(value: Any) -> str:
    text = str(value)
    limit = MAX_PARAM_VALUE_LENGTH
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _early_stopping(callbacks: Sequence[Any]) -> Any:
    keras = sys.modules["keras"]
    return next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)


def _make_callback(client: Any, run_id: str, config: AutologConfig) -> Any:
    """A ``keras.callbacks.Callback`` (defined here: Keras is imported by now)."""
    base: Any = sys.modules["keras"].callbacks.Callback

    class MetricsCallback(base):
        def __init__(self) -> None:
            super().__init__()
            self.metrics = EpochMetrics(client, run_id)
            self.epoch = 0

        def on_train_begin(self, logs: Any = None) -> None:
            safely("the optimizer's params", self.log_model_details)

        def log_model_details(self) -> None:
            config = self.model.optimizer.get_config()
            params = {f"optimizer_{k}": _param_value(v) for k, v in config.items()}
            client.log_batch(run_id, params=params)
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
            client.log_text(run_id, "\n".join(lines), SUMMARY_FILE)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if config.log_every_epoch and logs:
                self.metrics.add(logs.items(), epoch)

        def on_test_end(self, logs: Any = None) -> None:
            if config.log_every_epoch and logs:
                self.metrics.add(logs.items(), self.epoch, "validation_")

    return MetricsCallback()


def _log_early_stopping(client: Any, run_id: str, early: Any, history: Any) -> None:
    if early is None or not early.model.stop_training:
        return
    metrics: list[tuple[str, float, int]] = [("stopped_epoch", float(early.stopped_epoch), 0)]
    epochs = list(getattr(history, "epoch", []))
    best = getattr(early, "best_epoch", None)
    restored = early.restore_best_weights and early.best_weights is not None
    if restored and isinstance(best, int) and best in epochs:
        metrics.append(("restored_epoch", float(best), 0))
        index = epochs.index(best)
        for key, values in history.history.items():
            metrics.append((key, float(values[index]), early.stopped_epoch + 1))
    client.log_batch(run_id, metrics=metrics)


def _log_model(client: Any, run_id: str, model: Any, x: Any, config: AutologConfig) -> None:
    """Log the model: to a local store on the background thread, from a snapshot taken
    now (its .keras bytes: the caller may train the model further as soon as ``fit``
    returns); to a team server or a remote's mirror before ``fit`` returns."""
    from mlcli.store import Store
    from mlcli.tracking.background import background_work

    signature = model_signature(model) if config.log_model_signatures else False
    example = None
    if config.log_input_examples and type(x).__name__ == "ndarray":
        example = x[:EXAMPLE_ROWS].copy()
    if type(client.store) is not Store or not _keras_own(model):
        _write_model(client, run_id, model, signature, example, config)
        return
    folder = tempfile.mkdtemp(prefix="mlcli-keras-")
    snapshot = Path(folder) / "snapshot.keras"
    try:
        model.save(snapshot)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def write(own_client: Any) -> None:
        try:
            keras = sys.modules["keras"]
            copy = keras.saving.load_model(snapshot, safe_mode=False)  # the bytes just written
            _write_model(own_client, run_id, copy, signature, example, config)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    background_work().submit(run_id, "the model", write, client.store.root)


def _keras_own(model: Any) -> bool:
    """Whether the model and its layers are all Keras' own classes, which its snapshot
    loads back without the caller's custom classes (others are written at once)."""
    layers = [model, *model._flatten_layers(include_self=False)]
    return all(type(layer).__module__.split(".")[0] == "keras" for layer in layers)


def _write_model(
    client: Any, run_id: str, model: Any, signature: Any, example: Any, config: AutologConfig
) -> None:
    from mlcli.models.log import log_model

    log_model(
        model,
        MODEL_NAME,
        flavor=FLAVOR,
        run_id=run_id,
        client=client,
        signature=signature,
        input_example=example,
        registered_model_name=config.registered_model_name,
        save_model_kwargs=config.save_model_kwargs,
    )


def model_signature(model: Any) -> Any:
    """Tensor specs from the model's input and output shapes (None: any size), as
    MLflow's autolog writes them; False (no signature) when the model has none."""
    from mlcli.models.signature import ModelSignature, Schema, TensorSpec

    def specs(shapes: Any, dtype: Any) -> Schema:
        listed = shapes if isinstance(shapes, list) else [shapes]
        return Schema([TensorSpec(str(dtype), [-1 if d is None else d for d in s]) for s in listed])

    try:
        inputs = specs(model.input_shape, model.input_dtype)
        outputs = specs(model.output_shape, model.compute_dtype)
    except (AttributeError, ValueError, TypeError) as exc:
        _log.info("mlcli autolog: no signature for the Keras model: %s", exc)
        return False
    return ModelSignature(inputs, outputs)
