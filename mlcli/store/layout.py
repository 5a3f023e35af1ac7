"""Where each file of a ``.mlruns`` store lives (the layout in docs/store.md).

This is the only module that knows the layout; everything else asks it for paths.
"""

from __future__ import annotations

import os
from pathlib import Path

FORMAT_VERSION = 1
STORE_DIRNAME = ".mlruns"
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"

RUN_DOC = "run.json"
PARAMS_LOG = "params.jsonl"
METRICS_LOG = "metrics.jsonl"
TAGS_LOG = "tags.jsonl"
BATCHES_LOG = "batches.jsonl"  # commit lines of multi-line batches (see batches.py)
INPUTS_LOG = "inputs.jsonl"  # datasets and models a run read (see inputs.py)
RUN_LOCK = ".lock"
ARTIFACTS_DIR = "artifacts"
EXPERIMENT_DOC = "experiment.json"
LOGGED_MODELS_DIR = "logged_models"


class StoreLayout:
    """Paths inside one store. ``root`` is the ``.mlruns`` directory itself."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def version_file(self) -> Path:
        return self.root / "VERSION"

    @property
    def experiments_dir(self) -> Path:
        return self.root / "experiments"

    @property
    def experiments_lock(self) -> Path:
        return self.experiments_dir / ".lock"

    def experiment_dir(self, experiment_id: str) -> Path:
        return self.experiments_dir / experiment_id

    def experiment_doc(self, experiment_id: str) -> Path:
        return self.experiments_dir / experiment_id / EXPERIMENT_DOC

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def run_doc(self, run_id: str) -> Path:
        return self.runs_dir / run_id / RUN_DOC

    def run_lock(self, run_id: str) -> Path:
        return self.runs_dir / run_id / RUN_LOCK

    def params_log(self, run_id: str) -> Path:
        return self.runs_dir / run_id / PARAMS_LOG

    def metrics_log(self, run_id: str) -> Path:
        return self.runs_dir / run_id / METRICS_LOG

    def tags_log(self, run_id: str) -> Path:
        return self.runs_dir / run_id / TAGS_LOG

    def batches_log(self, run_id: str) -> Path:
        return self.runs_dir / run_id / BATCHES_LOG

    def inputs_log(self, run_id: str) -> Path:
        return self.runs_dir / run_id / INPUTS_LOG

    def artifacts_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id / ARTIFACTS_DIR

    def logged_models_dir(self, run_id: str) -> Path:
        """MLflow 3 "logged models" of a run: one JSON document each; their files are
        under the run's artifacts (see ``logged_models.py``)."""
        return self.runs_dir / run_id / LOGGED_MODELS_DIR

    def logged_model_doc(self, run_id: str, model_id: str) -> Path:
        return self.runs_dir / run_id / LOGGED_MODELS_DIR / f"{model_id}.json"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def model_dir(self, name: str) -> Path:
        return self.models_dir / name

    def model_doc(self, name: str) -> Path:
        return self.models_dir / name / "model.json"

    def model_lock(self, name: str) -> Path:
        return self.models_dir / name / ".lock"

    def model_aliases(self, name: str) -> Path:
        return self.models_dir / name / "aliases.json"

    def model_events(self, name: str) -> Path:
        return self.models_dir / name / "events.jsonl"

    def versions_dir(self, name: str) -> Path:
        return self.models_dir / name / "versions"

    def version_dir(self, name: str, version: int) -> Path:
        return self.models_dir / name / "versions" / str(version)

    def version_doc(self, name: str, version: int) -> Path:
        return self.version_dir(name, version) / "version.json"

    def version_artifacts(self, name: str, version: int) -> Path:
        return self.version_dir(name, version) / "artifacts"

    @property
    def config_file(self) -> Path:
        """Settings of this store, such as its remotes (INI, like ``.git/config``)."""
        return self.root / "config"

    @property
    def config_lock(self) -> Path:
        return self.root / "config.lock"

    @property
    def changes_log(self) -> Path:
        """Run ids whose files changed after the run ended (see ``index.py``)."""
        return self.root / "changes.jsonl"

    @property
    def index_path(self) -> Path:
        override = os.environ.get("MLCLI_INDEX")
        return Path(override).expanduser().resolve() if override else self.root / "index.db"
