"""``mlcli import-mlflow``: MLflow's stores (an ``mlruns`` file store or a SQLite
database) copied into a ``.mlruns`` store, idempotently, without MLflow installed.

    import_mlflow(location, client, progress) -> ImportReport
"""

from mlcli.mlflow_import.importer import Importer, ImportReport, import_mlflow

__all__ = ["ImportReport", "Importer", "import_mlflow"]
