"""``mlcli import-mlflow`` of runs whose names MLflow took but mlcli refuses (issue 15,
finding 10): the run is imported under a printable name, with a warning, never
skipped and never forging rows of ``runs list``."""

from __future__ import annotations

from pathlib import Path

RUN_ID = "ab" * 16


def _mlflow_file_store(root: Path, run_name: str, run_meta: str = "") -> Path:
    """A minimal MLflow file store, as MLflow's FileStore lays it out."""
    experiment = root / "mlruns" / "0"
    (experiment / "tags").mkdir(parents=True)
    (experiment / "meta.yaml").write_text(
        "experiment_id: '0'\nname: Default\nlifecycle_stage: active\n"
    )
    run = experiment / RUN_ID
    for folder in ("params", "tags", "metrics", "artifacts"):
        (run / folder).mkdir(parents=True)
    (run / "meta.yaml").write_text(
        run_meta
        or (
            f"run_id: {RUN_ID}\nrun_uuid: {RUN_ID}\nexperiment_id: '0'\n"
            f"run_name: {run_name!r}\nstatus: 3\nstart_time: 1\nend_time: 2\n"
            "lifecycle_stage: active\nuser_id: me\n"
        ).replace("'", '"')
    )
    (run / "tags" / "mlflow.runName").write_text(run_name)
    (run / "params" / "p").write_text("1")
    return root / "mlruns"


def test_a_run_name_with_a_newline_is_imported_printable(
    cli, store_root: Path, tmp_path: Path
) -> None:
    source = _mlflow_file_store(tmp_path, "evil\nfake-row")
    result = cli("import-mlflow", str(source), "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert any("control characters in its name" in w for w in report["warnings"]), report
    runs = cli("runs", "list", "--json").json()
    assert [(r["run_id"], r["run_name"]) for r in runs] == [(RUN_ID, "evil fake-row")]
    shown = cli("runs", "show", RUN_ID, "--json").json()
    assert shown["tags"]["mlcli.runName"] == "evil fake-row"
    assert shown["params"] == {"p": "1"}


def test_a_run_document_nested_too_deeply_is_one_line_not_a_crash(
    mlcli_process, store_root: Path, tmp_path: Path
) -> None:
    """In a subprocess: libyaml crashed the interpreter (SIGSEGV) on this document."""
    source = _mlflow_file_store(tmp_path, "x", run_meta="a: " + "[" * 50_000 + "]" * 50_000)
    result = mlcli_process("import-mlflow", str(source), cwd=store_root.parent, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("mlcli: error: ")
    assert result.stderr.endswith("meta.yaml nests too deeply to be read\n")
