"""The store: plain files as the source of truth, a SQLite index for speed.

This package is the store's public face: everything above ``store/`` imports from
``mlcli.store`` (or, for the maintenance commands, ``mlcli.store.upkeep``), never from
its other modules. ``TrackingStore`` (``backend.py``) is the facade every backend
implements; the rest are the entities, the validation rules every backend shares, and
the few helpers that describe the store's contract (its layout, artifact paths, run
owners).
"""

from typing import TYPE_CHECKING, Any

from mlcli.store.artifacts import (
    ArtifactRepository,
    artifact_write_errors,
    normalize_artifact_path,
)
from mlcli.store.backend import (
    Artifacts,
    ExperimentRecords,
    LoggedModelRecords,
    RunIndexView,
    RunRecords,
    SearchesOnServer,
    TrackingStore,
)
from mlcli.store.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    ModelInput,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
    json_number,
)
from mlcli.store.experiments import in_view, validate_experiment_tags
from mlcli.store.heartbeat import heartbeat_change
from mlcli.store.inputs import as_dataset, as_dataset_input, as_model_input, fold_inputs
from mlcli.store.layout import DEFAULT_EXPERIMENT_ID, STORE_DIRNAME, StoreLayout
from mlcli.store.locate import (
    StoreAnnouncer,
    ignore_mlflow_tracking_uri,
    named_store,
    store_location,
    store_of_mlflow_uri,
)
from mlcli.store.logged_models import LoggedModel
from mlcli.store.ownership import (
    KubernetesJobOwner,
    Owner,
    RunOwner,
    SlurmJobOwner,
    parse_owner,
    this_process,
)
from mlcli.store.records import metric_line
from mlcli.store.remotes import Remote, Remotes, normalize_url
from mlcli.store.validation import (
    MAX_BATCH_ITEMS,
    MAX_INT64,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    parse_metric_value,
    printable_run_name,
    validate_key,
    validate_metric_value,
    validate_param_value,
    validate_run_id,
    validate_run_name,
    validate_step,
    validate_tag_value,
    validate_timestamp,
)

if TYPE_CHECKING:
    from mlcli.store.mirror import MirrorStore
    from mlcli.store.rest.cache import private_cache
    from mlcli.store.rest.connection import ServerConnection, without_userinfo
    from mlcli.store.rest.store import ServerStore
    from mlcli.store.store import Store, file_store, open_store
    from mlcli.store.team.database import Database as TeamDatabase
    from mlcli.store.team.store import TeamStore

# The file store itself (and SQLite under it) loads on first use, so that a command
# that never opens a store (``mlcli --help``) does not pay for it.
_LAZY = {"Store", "file_store", "open_store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from mlcli.store import store

        return getattr(store, name)
    if name == "MirrorStore":
        from mlcli.store.mirror import MirrorStore

        return MirrorStore
    if name == "ServerStore":
        from mlcli.store.rest.store import ServerStore

        return ServerStore
    if name == "TeamStore":
        from mlcli.store.team.store import TeamStore

        return TeamStore
    if name == "TeamDatabase":
        from mlcli.store.team.database import Database

        return Database
    if name == "private_cache":
        from mlcli.store.rest.cache import private_cache

        return private_cache
    if name == "ServerConnection":
        from mlcli.store.rest.connection import ServerConnection

        return ServerConnection
    if name == "without_userinfo":
        from mlcli.store.rest.connection import without_userinfo

        return without_userinfo
    raise AttributeError(f"module 'mlcli.store' has no attribute {name!r}")


__all__ = [
    "DATASET_CONTEXT_TAG",
    "DEFAULT_EXPERIMENT_ID",
    "MAX_BATCH_ITEMS",
    "MAX_INT64",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "STORE_DIRNAME",
    "ArtifactRepository",
    "Artifacts",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentRecords",
    "FileInfo",
    "KubernetesJobOwner",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelRecords",
    "Metric",
    "MirrorStore",
    "ModelInput",
    "Owner",
    "Param",
    "Remote",
    "Remotes",
    "Run",
    "RunData",
    "RunIndexView",
    "RunInfo",
    "RunInputs",
    "RunOwner",
    "RunRecords",
    "RunStatus",
    "RunTag",
    "SearchesOnServer",
    "ServerConnection",
    "ServerStore",
    "SlurmJobOwner",
    "Store",
    "StoreAnnouncer",
    "StoreLayout",
    "TeamDatabase",
    "TeamStore",
    "TrackingStore",
    "ViewType",
    "artifact_write_errors",
    "as_dataset",
    "as_dataset_input",
    "as_model_input",
    "file_store",
    "fold_inputs",
    "heartbeat_change",
    "ignore_mlflow_tracking_uri",
    "in_view",
    "json_number",
    "metric_line",
    "named_store",
    "normalize_artifact_path",
    "normalize_url",
    "open_store",
    "parse_metric_value",
    "parse_owner",
    "printable_run_name",
    "private_cache",
    "store_location",
    "store_of_mlflow_uri",
    "this_process",
    "validate_experiment_tags",
    "validate_key",
    "validate_metric_value",
    "validate_param_value",
    "validate_run_id",
    "validate_run_name",
    "validate_step",
    "validate_tag_value",
    "validate_timestamp",
    "without_userinfo",
]
