"""PyTorch Lightning autologging: every ``Trainer.fit`` logs its params, the metrics of
each epoch, early stopping, a model summary and the trained module.

Names as MLflow's ``mlflow.pytorch.autolog()``: the params ``epochs`` (``max_epochs``),
``optimizer_name`` and the first optimizer's defaults (``lr``, ``momentum``...);
``trainer.callback_metrics`` at the end of each training epoch (validation included),
with the epoch as step; for an ``EarlyStopping`` callback its params (``monitor``,
``mode``, ``patience``, ``min_delta``, ``stopped_epoch``) and, when it stopped training,
the metrics ``stopped_epoch``, ``restored_epoch``, ``best_score`` and ``wait_count``;
``model_summary.txt``; the module as ``model``.

Unlike MLflow, which pickles the module, the model is saved as pt2 (``torch.export``)
traced on the first batch ``forward`` saw (five rows of it are its input example), so
that it loads without the pickle opt-in; ``serialization_format="pickle"`` is MLflow's
choice, on request. Both ``lightning`` and ``pytorch_lightning`` are patched, when
imported (enabling autologging imports neither). Metrics are written in one batch at
most every second and at the end. Failing to log never fails the fit: the reason is a
warning on the ``mlcli`` logger.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from types import ModuleType
from typing import Any

from mlcli import system_tags
from mlcli.autologging.epoch_metrics import EpochMetrics
from mlcli.autologging.patching import OutermostCall, Patches
from mlcli.autologging.runs import autolog_run
from mlcli.autologging.safety import safely
from mlcli.errors import InvalidInputError
from mlcli.store import MAX_PARAM_VALUE_LENGTH

FLAVOR = "pytorch"
MODEL_NAME = "model"
SUMMARY_FILE = "model_summary.txt"
LIBRARIES = ("lightning", "pytorch_lightning")
EARLY_STOPPING_PARAMS = ("monitor", "mode", "patience", "min_delta", "stopped_epoch")
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class AutologConfig:
    log_every_n_epoch: int = 1
    log_models: bool = True
    log_model_signatures: bool = True
    registered_model_name: str | None = None
    serialization_format: str = "pt2"


class _Autolog:
    def __init__(self) -> None:
        self.config = AutologConfig()
        self.patches = Patches()
        self.calls = OutermostCall()
        self.hook: _AfterImport | None = None


_state = _Autolog()


def autolog(
    log_every_n_epoch: int = 1,
    log_every_n_step: int | None = None,
    log_models: bool = True,
    log_model_signatures: bool = True,
    disable: bool = False,
    registered_model_name: str | None = None,
    serialization_format: str = "pt2",
    log_input_examples: bool = False,  # mlcli.autolog()'s; the example is always saved
    max_tuning_runs: int | None = None,  # mlcli.autolog()'s, for scikit-learn only
) -> None:
    """Log every Lightning ``Trainer.fit`` from now on (``disable=True``: stop, and
    restore ``fit``). A fit starts a run when none is active and ends it after."""
    if disable:
        _state.patches.restore_all()
        _remove_hook()
        return
    if log_every_n_step is not None:
        raise InvalidInputError("log_every_n_step is not supported: metrics are per epoch")
    if log_every_n_epoch < 1:
        raise InvalidInputError("log_every_n_epoch must be at least 1")
    _state.config = AutologConfig(
        log_every_n_epoch,
        log_models,
        log_model_signatures,
        registered_model_name,
        serialization_format,
    )
    if _state.patches or _state.hook is not None:
        return
    waiting = []
    for name in LIBRARIES:
        if name in sys.modules:
            _patch(sys.modules[name])
        elif find_spec(name) is not None:
            waiting.append(name)
    if waiting:
        _state.hook = _AfterImport(set(waiting))
        sys.meta_path.insert(0, _state.hook)


def _remove_hook() -> None:
    if _state.hook is not None and _state.hook in sys.meta_path:
        sys.meta_path.remove(_state.hook)
    _state.hook = None


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patches a Lightning package once it has been imported: it finds the package's
    spec with the other finders and runs :func:`_patch` after its loader."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
                spec.loader = _ThenPatch(spec.loader, self)
                return spec
        return None


class _ThenPatch(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, hook: _AfterImport) -> None:
        self.loader = loader
        self.hook = hook

    def create_module(self, spec: Any) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.hook.names.discard(module.__name__)
        if not self.hook.names:
            _remove_hook()
        _patch(module)


def _patch(library: ModuleType) -> None:
    trainer = library.Trainer
    original = trainer.fit

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        outermost = _state.calls.enter()
        try:
            if not outermost:
                return original(self, *args, **kwargs)
            return _fit_and_log(library, original, self, args, kwargs)
        finally:
            _state.calls.exit()

    fit.__mlcli_autolog__ = True  # type: ignore[attr-defined]
    _state.patches.replace(trainer, "fit", fit)


def _fit_and_log(
    library: ModuleType,
    original: Callable[..., Any],
    trainer: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    from mlcli import fluent

    pl = getattr(library, "pytorch", library)  # lightning.pytorch, or pytorch_lightning
    config = _state.config
    with autolog_run(FLAVOR) as run_id:
        client = fluent._session.get_client()
        early = next(
            (c for c in trainer.callbacks if isinstance(c, pl.callbacks.EarlyStopping)), None
        )
        logger = _make_callback(pl, client, run_id, config, early)
        trainer.callbacks.append(logger)
        try:
            result = original(trainer, *args, **kwargs)
        finally:
            trainer.callbacks.remove(logger)
            logger.restore_forward()
            safely("the metrics", logger.metrics.flush)
        module = trainer.lightning_module
        safely("early stopping", _log_early_stopping, client, run_id, early)
        safely("the model summary", _log_summary, pl, client, run_id, module)
        if config.log_models:
            safely("the model", _log_model, run_id, module, logger.first_input, config)
        return result


def _make_callback(
    pl: ModuleType, client: Any, run_id: str, config: AutologConfig, early: Any
) -> Any:
    """A Lightning ``Callback`` (defined here: Lightning is imported by now)."""

    class MetricsCallback(pl.Callback):  # type: ignore[name-defined]
        def __init__(self) -> None:
            self.metrics = EpochMetrics(client, run_id)
            self.first_input: Any = None
            self.module: Any = None

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            import torch

            safely("the params", _log_params, client, run_id, trainer, early)
            self.module = pl_module
            original = pl_module.forward

            def forward(*inputs: Any, **kw: Any) -> Any:  # keeps the first batch's input
                self.restore_forward()
                if len(inputs) == 1 and not kw and isinstance(inputs[0], torch.Tensor):
                    self.first_input = inputs[0][:EXAMPLE_ROWS].detach().cpu().clone()
                return original(*inputs, **kw)

            pl_module.forward = forward

        def restore_forward(self) -> None:
            if self.module is not None and "forward" in vars(self.module):
                del self.module.forward

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            epoch = trainer.current_epoch
            if trainer.sanity_checking or (epoch + 1) % config.log_every_n_epoch:
                return
            self.metrics.add(trainer.callback_metrics.items(), epoch)

    return MetricsCallback()


def _log_params(client: Any, run_id: str, trainer: Any, early: Any) -> None:
    params: dict[str, Any] = {"epochs": trainer.max_epochs}
    if trainer.optimizers:
        optimizer = trainer.optimizers[0]
        optimizer = getattr(optimizer, "_optimizer", optimizer)  # a LightningOptimizer's
        params["optimizer_name"] = type(optimizer).__name__
        params.update(getattr(optimizer, "defaults", {}))
    if early is not None:
        params.update({k: getattr(early, k) for k in EARLY_STOPPING_PARAMS if hasattr(early, k)})
    client.log_batch(
        run_id,
        params={k: _param_value(v) for k, v in params.items()},
        tags={system_tags.AUTOLOGGING: FLAVOR},
    )


def _param_value(value: Any) -> str:
    text = str(value)
    limit = MAX_PARAM_VALUE_LENGTH
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _log_early_stopping(client: Any, run_id: str, early: Any) -> None:
    if early is None or not early.stopped_epoch:
        return
    metrics = {
        "stopped_epoch": early.stopped_epoch,
        "restored_epoch": early.stopped_epoch - max(1, early.patience),
        "best_score": early.best_score,
        "wait_count": early.wait_count,
    }
    client.log_batch(run_id, metrics=[(k, float(v), 0) for k, v in metrics.items()])


def _log_summary(pl: ModuleType, client: Any, run_id: str, module: Any) -> None:
    summary = importlib.import_module(f"{pl.__name__}.utilities.model_summary").ModelSummary
    client.log_text(run_id, str(summary(module, max_depth=-1)), SUMMARY_FILE)


def _log_model(run_id: str, module: Any, first_input: Any, config: AutologConfig) -> None:
    from mlcli.models.log import log_model

    example = None if first_input is None else first_input.numpy()
    log_model(
        module,
        MODEL_NAME,
        flavor=FLAVOR,
        run_id=run_id,
        input_example=example,
        signature=None if config.log_model_signatures else False,
        registered_model_name=config.registered_model_name,
        serialization_format=config.serialization_format,
    )
