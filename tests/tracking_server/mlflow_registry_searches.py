"""What an MLflow user's registry and run searches answer, run unchanged by the tests
against `mlcli server` and against MLflow's own SQLite store (prints JSON on its last
line)."""

import json
import os
import sys
import warnings

warnings.simplefilter("ignore")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag  # noqa: E402

PROMPT = "`mlflow.prompt.is_prompt`"
MLMODEL = "flavors:\n  python_function:\n    loader_module: nothing\n"


def main() -> None:
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    experiment = client.create_experiment("filters")
    for name, tags in (("m1", {"k": "a"}), ("m2", {"k": "b"}), ("m3", {})):
        run_id = client.create_run(experiment, run_name=name, tags=tags).info.run_id
        client.log_text(run_id, MLMODEL, "model/MLmodel")
        client.create_registered_model(name, tags=tags)
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags=tags)
    # A prompt, as MLflow stores one: a registered model and a version marked with the
    # tag (through the client's store: MlflowClient refuses to register a prompt as a model,
    # and mlcli keeps no prompt templates).
    run_id = client.create_run(experiment, run_name="p1", tags={"k": "b"}).info.run_id
    client.log_text(run_id, MLMODEL, "model/MLmodel")
    marked = {"k": "b", "mlflow.prompt.is_prompt": "true"}
    store = client._get_registry_client().store
    store.create_registered_model("p1", [RegisteredModelTag(k, v) for k, v in marked.items()])
    tags = [ModelVersionTag(k, v) for k, v in marked.items()]
    store.create_model_version("p1", f"runs:/{run_id}/model", run_id=run_id, tags=tags)

    def models(text=""):
        return sorted(m.name for m in client.search_registered_models(text))

    def versions(text=""):
        return sorted(f"{v.name}/{v.version}" for v in client.search_model_versions(text))

    def runs(text=""):
        return sorted(r.info.run_name for r in client.search_runs([experiment], text))

    answers = {
        "models": models(),
        "models k != a": models("tags.k != 'a'"),
        "models k = b": models("tags.k = 'b'"),
        "models prompts": models(f"tags.{PROMPT} = 'true'"),
        "models not false": models(f"tags.{PROMPT} != 'false'"),
        "versions": versions(),
        "versions k != a": versions("tags.k != 'a'"),
        "versions not prompts": versions(f"tags.{PROMPT} != 'true'"),
        "versions prompts": versions(f"tags.{PROMPT} = 'true'"),
        "runs k != a": runs("tags.k != 'a'"),
        "runs not prompts": runs(f"tags.{PROMPT} != 'true'"),
        "runs false": runs(f"tags.{PROMPT} = 'false'"),
        "prompts": sorted(p.name for p in mlflow.genai.search_prompts()),
    }
    print(json.dumps(answers, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
