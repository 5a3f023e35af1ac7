"""One MLflow user's session, unchanged, run with ``import mlflow`` against a tracking
server (MLFLOW_TRACKING_URI): tracking, nested runs, artifacts, datasets, a logged and
registered model, the registry, searches, deletion and errors. It prints, as JSON on its
last line, what each call answered (entities as their ``to_dictionary()``, errors as their
``error_code``), for ``test_server_mlflow_parity.py`` to compare between ``mlcli server``
and a real ``mlflow server``."""

import json
import os
import tempfile
import warnings

warnings.simplefilter("ignore")  # MLflow's deprecation notices (stages) are not the point

import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def entity(value):
    """An MLflow entity as plain JSON (what its attributes say)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): entity(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [entity(v) for v in value]
    if hasattr(value, "to_dictionary"):
        return entity(value.to_dictionary())
    if hasattr(value, "to_proto"):
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(value.to_proto(), preserving_proto_field_name=True)
    return repr(value)


def error_of(call):
    """The error code MLflow's client raises for ``call`` (None when it succeeds)."""
    try:
        call()
    except MlflowException as exc:
        return exc.error_code
    return None


def main() -> None:
    results = {}
    client = MlflowClient()
    experiment_id = mlflow.create_experiment("parity", tags={"team": "vision"})
    results["experiment"] = entity(client.get_experiment(experiment_id))
    results["experiment_by_name"] = entity(mlflow.get_experiment_by_name("parity"))
    client.set_experiment_tag(experiment_id, "stage", "dev")
    client.delete_experiment_tag(experiment_id, "team")
    results["experiment_tags"] = client.get_experiment(experiment_id).tags
    results["duplicate_experiment"] = error_of(lambda: mlflow.create_experiment("parity"))

    mlflow.set_experiment("parity")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 2))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    with mlflow.start_run(run_name="parent", description="the first try") as parent:
        mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
        for step in range(4):
            mlflow.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.5 + step / 10}, step=step)
        mlflow.log_metric("loss", 0.1, step=1)  # a second point at a step already logged
        mlflow.set_tags({"team": "vision", "priority": "high"})
        with tempfile.TemporaryDirectory() as tmp:
            notes = os.path.join(tmp, "notes.txt")
            with open(notes, "w") as handle:
                handle.write("trained on synthetic data\n")
            mlflow.log_artifact(notes, artifact_path="docs")
        mlflow.log_dict({"classes": [0, 1]}, "config/labels.json")
        mlflow.log_text("hello", "hello.txt")
        dataset = mlflow.data.from_numpy(features, targets=labels, name="synthetic")
        mlflow.log_input(dataset, context="training")
        results["param_conflict"] = error_of(lambda: mlflow.log_param("C", 0.7))
        children = []
        for c in (0.1, 1.0):
            with mlflow.start_run(run_name=f"child-{c}", nested=True) as child:
                mlflow.log_param("C", c)
                mlflow.log_metric("acc", 0.8 + c / 10)
                children.append(child.info.run_id)
        model = LogisticRegression(C=0.5).fit(features, labels)
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="parity-model", input_example=features[:2]
        )

    run = client.get_run(parent.info.run_id)
    results["run_info"] = entity(run.info)
    results["run_params"] = run.data.params
    results["run_metrics"] = run.data.metrics
    results["run_tags"] = {
        k: v for k, v in run.data.tags.items() if k != "mlflow.log-model.history"
    }
    results["run_inputs"] = entity(run.inputs)
    results["child_info"] = entity(client.get_run(children[0]).info)
    results["child_tags"] = client.get_run(children[0]).data.tags
    results["loss_history"] = [
        (m.key, m.value, m.step) for m in client.get_metric_history(parent.info.run_id, "loss")
    ]
    results["artifacts"] = entity(client.list_artifacts(parent.info.run_id))
    results["docs_artifacts"] = entity(client.list_artifacts(parent.info.run_id, "docs"))
    results["labels"] = mlflow.artifacts.load_dict(f"runs:/{parent.info.run_id}/config/labels.json")
    results["logged_model"] = {
        "name": info.name,
        "flavors": sorted(info.flavors),
        "signature": info.signature.to_dict() if info.signature else None,
        "registered_model_version": info.registered_model_version,
    }

    def names(runs):
        return [r.info.run_name for r in runs]

    search = mlflow.search_runs
    results["search_acc"] = names(
        search(
            filter_string="metrics.acc > 0.85", order_by=["metrics.acc DESC"], output_format="list"
        )
    )
    results["search_parent_tag"] = sorted(
        names(search(filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                     output_format="list"))
    )  # fmt: skip
    results["search_run_name"] = names(
        search(filter_string="attributes.run_name = 'child-0.1'", output_format="list")
    )
    results["search_like"] = sorted(
        names(search(filter_string="tags.mlflow.runName LIKE 'child%'", output_format="list"))
    )
    results["search_missing_tag"] = sorted(
        names(search(filter_string="tags.priority != 'high'", output_format="list"))
    )
    frame = search(order_by=["attributes.start_time ASC"])
    results["search_frame_columns"] = sorted(frame.columns)
    results["search_frame_names"] = list(frame["tags.mlflow.runName"])

    name = "parity-model"
    client.set_registered_model_tag(name, "owner", "ana")
    client.update_registered_model(name, description="a classifier")
    client.set_registered_model_alias(name, "champion", "1")
    client.transition_model_version_stage(name, "1", "Staging")
    second = client.create_model_version(
        name, info.model_uri, run_id=parent.info.run_id, model_id=info.model_id
    )
    client.transition_model_version_stage(
        name, second.version, "Staging", archive_existing_versions=True
    )
    client.update_model_version(name, second.version, description="retrained")
    client.set_model_version_tag(name, second.version, "validated", "yes")
    results["registered_model"] = entity(client.get_registered_model(name))
    results["versions"] = entity(client.search_model_versions(f"name = '{name}'"))
    results["by_alias"] = entity(client.get_model_version_by_alias(name, "champion"))
    results["latest_staging"] = [v.version for v in client.get_latest_versions(name, ["Staging"])]
    results["model_search"] = [m.name for m in client.search_registered_models()]
    results["model_search_filtered"] = [
        m.name for m in client.search_registered_models(filter_string="name LIKE 'parity%'")
    ]
    results["predictions"] = (
        mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(features[:4]).tolist()
    )
    client.rename_registered_model(name, "parity-renamed")
    results["renamed_versions"] = [
        v.version for v in client.search_model_versions("name = 'parity-renamed'")
    ]
    results["old_name"] = error_of(lambda: client.get_registered_model(name))

    results["missing_run"] = error_of(lambda: client.get_run("0" * 32))
    results["missing_experiment"] = error_of(lambda: client.get_experiment("987654"))
    results["bad_filter"] = error_of(lambda: search(filter_string="metrics.acc >>> 1"))
    client.delete_experiment(experiment_id)
    results["deleted_active"] = names(
        client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    )
    results["deleted_all"] = sorted(
        names(client.search_runs([experiment_id], run_view_type=ViewType.ALL))
    )
    results["deleted_experiment"] = client.get_experiment(experiment_id).lifecycle_stage
    client.restore_experiment(experiment_id)
    results["restored_active"] = sorted(names(client.search_runs([experiment_id])))

    ids = {parent.info.run_id: "<parent>"}
    ids |= {child: f"<child{n}>" for n, child in enumerate(children)}
    ids[info.model_id] = "<model>"
    print(json.dumps({"results": results, "ids": ids}, default=repr))


if __name__ == "__main__":
    main()
