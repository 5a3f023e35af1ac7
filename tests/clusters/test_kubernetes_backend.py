"""The kubernetes backend (``mlcli run --backend kubernetes``), without a cluster.

Manifests are checked against the Kubernetes OpenAPI schema through the official
client's models (``V1Job``: unknown fields and wrong types refused, and what the model
serialises back is the manifest itself). The client calls go to ``FakeKubeApi``, a
real HTTP server on 127.0.0.1 written from the API's documented shapes; no real
cluster is reached (docs/clusters.md says so too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_fake_api import FakeKubeApi, Script

from mlcli import system_tags
from mlcli.clusters.kubernetes_config import KubernetesConfig, load_kubernetes_config
from mlcli.clusters.kubernetes_follow import cancel_kubernetes_run, follow_kubernetes_job
from mlcli.clusters.kubernetes_image import PushedImage
from mlcli.clusters.kubernetes_manifest import (
    DEFAULT_TEMPLATE,
    JobInputs,
    load_template,
    render_job,
    validate_job,
)
from mlcli.clusters.kubernetes_submit import (
    MANIFEST_ARTIFACT,
    KubernetesSubmission,
    submit_kubernetes,
)
from mlcli.errors import InvalidInputError, MlcliError
from mlcli.kubernetes import api
from mlcli.projects import RunRequest
from mlcli.tracking import TrackingClient

MLFLOW_TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: "{replaced with MLflow Project name}"
  namespace: mlflow
spec:
  ttlSecondsAfterFinished: 100
  backoffLimit: 0
  template:
    spec:
      containers:
      - name: "{replaced with MLflow Project name}"
        image: "{replaced with URI of Docker image created during Project execution}"
        command: ["{replaced with MLflow Project entry point command}"]
        env: ["{appended with MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID}"]
        resources:
          limits:
            memory: 512Mi
          requests:
            memory: 256Mi
      restartPolicy: Never
"""
MLPROJECT = """\
name: K8s Demo
docker_env:
  image: python:3.11-slim
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.1}
    command: "python train.py --alpha {alpha}"
"""
IMAGE = PushedImage("registry.example.com/team/k8s-demo:abc123@sha256:" + "0" * 64, "sha256:1")
RUN_ID = "f" * 32


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubeApi]:
    fake = FakeKubeApi().start()
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    yield fake
    fake.stop()


@pytest.fixture
def project(workdir: Path, store_root: Path) -> Path:
    directory = workdir / "proj"
    directory.mkdir()
    (directory / "MLproject").write_text(MLPROJECT)
    (directory / "train.py").write_text("print('loss: 0.5')\n")
    return directory


@pytest.fixture
def client(store_root: Path) -> TrackingClient:
    return TrackingClient(store_root)


def inputs(**changes: Any) -> JobInputs:
    values: dict[str, Any] = {
        "project_name": "K8s Demo",
        "run_id": RUN_ID,
        "image": IMAGE.reference,
        "command": ["python", "-m", "mlcli", "run", "/mlcli/project", "--run-id", RUN_ID],
        "environment": {"MLCLI_RUN_ID": RUN_ID, "MLCLI_STORE": "http://mlcli.example:5000"},
    }
    return JobInputs(**{**values, **changes})


def schema_round_trip(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest read by the client's V1Job model and serialised back as the API
    sees it: equal to the manifest when every field is known and typed right."""
    from kubernetes.client import ApiClient
    from kubernetes.client.models import V1Job

    model = V1Job.model_validate(manifest)
    return ApiClient().sanitize_for_serialization(model)  # type: ignore[no-any-return]


def strings(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for value in document.values():
            yield from strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from strings(value)
    elif isinstance(document, str):
        yield document


# -- manifests ---------------------------------------------------------------------


def test_the_default_job_is_valid_against_the_schema() -> None:
    resources = {"limits": {"memory": "4Gi", "nvidia.com/gpu": "1"}, "requests": {"cpu": "2"}}
    manifest = render_job(DEFAULT_TEMPLATE, inputs(namespace="ml", resources=resources))
    assert schema_round_trip(manifest) == manifest
    validate_job(manifest)
    assert manifest["metadata"]["name"] == f"k8s-demo-{RUN_ID[:12]}"
    assert manifest["metadata"]["namespace"] == "ml"
    assert manifest["metadata"]["labels"] == {"mlcli/run-id": RUN_ID}
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["template"]["metadata"]["labels"] == {"mlcli/run-id": RUN_ID}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["name"] == "k8s-demo"
    assert container["image"] == IMAGE.reference
    assert container["command"][:4] == ["python", "-m", "mlcli", "run"]
    assert container["resources"] == resources
    env = {e["name"]: e for e in container["env"]}
    assert env["MLCLI_RUN_ID"]["value"] == RUN_ID
    assert env["MLCLI_STORE"]["value"] == "http://mlcli.example:5000"
    assert env["MLCLI_KUBERNETES_JOB_UID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}
    }
    assert DEFAULT_TEMPLATE["metadata"]["name"].startswith("{replaced")  # left unchanged


def test_mlflow_templates_work_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "kubernetes_job_template.yaml"
    path.write_text(MLFLOW_TEMPLATE)
    manifest = render_job(load_template(path), inputs(resources={"limits": {"cpu": "1"}}))
    assert schema_round_trip(manifest) == manifest
    assert not [s for s in strings(manifest) if s.startswith(("{replaced", "{appended"))]
    assert manifest["metadata"]["namespace"] == "mlflow"  # the template's
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 100
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("k8s-demo", IMAGE.reference)
    assert container["command"] == inputs().command
    assert container["resources"] == {
        "limits": {"memory": "512Mi", "cpu": "1"},
        "requests": {"memory": "256Mi"},
    }
    assert [e["name"] for e in container["env"]] == [
        "MLCLI_RUN_ID",
        "MLCLI_STORE",
        "MLCLI_KUBERNETES_JOB_UID",
    ]


def test_placeholders_in_a_second_container_are_replaced_and_quantities_become_text(
    tmp_path: Path,
) -> None:
    template = yaml.safe_load(MLFLOW_TEMPLATE)
    pod = template["spec"]["template"]["spec"]
    pod["containers"][0]["resources"]["limits"]["cpu"] = 2  # YAML int: the API takes it
    pod["containers"].append(
        {
            "name": "sidecar",
            "image": "{replaced with URI of Docker image created during Project execution}",
        }
    )
    manifest = render_job(template, inputs())
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert containers[1] == {"name": "sidecar", "image": IMAGE.reference}
    assert containers[0]["resources"]["limits"]["cpu"] == "2"
    assert schema_round_trip(manifest) == manifest


def test_a_sweep_is_an_indexed_job() -> None:
    manifest = render_job(DEFAULT_TEMPLATE, inputs(completions=8, parallelism=2))
    assert schema_round_trip(manifest) == manifest
    spec = manifest["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 8, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["spec"]["template"]["spec"]["containers"][0].update(
                imagePullPolicyy="Always"
            ),
            "spec.template.spec.containers.0.imagePullPolicyy: Extra inputs are not permitted",
        ),
        (
            lambda t: t["spec"].update(backoffLimit="none"),
            "spec.backoffLimit: Input should be a valid integer",
        ),
    ],
)
def test_a_job_the_schema_refuses_is_one_line(change: Any, message: str) -> None:
    template = yaml.safe_load(MLFLOW_TEMPLATE)
    change(template)
    with pytest.raises(InvalidInputError) as caught:
        validate_job(render_job(template, inputs()), "the Job template t.yaml")
    assert caught.value.message == (
        f"the Job template t.yaml is not a valid Kubernetes Job: {message}"
    )


# -- config ------------------------------------------------------------------------


def test_mlflow_config_keys(tmp_path: Path, workdir: Path) -> None:
    (workdir / "tmpl.yaml").write_text(MLFLOW_TEMPLATE)
    path = tmp_path / "kubernetes_config.json"
    path.write_text(
        json.dumps(
            {
                "kube-context": "docker-for-desktop",
                "kube-job-template-path": "tmpl.yaml",
                "repository-uri": "username/mlflow-kubernetes-example",
            }
        )
    )
    config = load_kubernetes_config([str(path), "namespace=ml"])
    assert config == KubernetesConfig(
        repository_uri="username/mlflow-kubernetes-example",
        kube_context="docker-for-desktop",
        kube_job_template_path=(workdir / "tmpl.yaml").resolve(),
        namespace="ml",
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kube-context": "x"}, "the kubernetes backend needs repository-uri in --backend-config"),
        (
            {"repository-uri": "r/x", "kube-job-template": "t.yaml"},
            "unknown Kubernetes config key 'kube-job-template' (known: kube-context, "
            "repository-uri, kube-job-template-path, namespace, store-uri, image, resources)",
        ),
        (
            {"repository-uri": "r/x:latest"},
            "repository-uri 'r/x:latest' must be an image repository",
        ),
        ({"repository-uri": "r/x", "kube-job-template-path": "nope.yaml"}, "is not a file"),
        ({"repository-uri": "r/x", "resources": {"cpu": 2}}, "resources must be a mapping with"),
    ],
)
def test_bad_configs_are_one_line(
    tmp_path: Path, workdir: Path, document: dict[str, Any], message: str
) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInputError) as caught:
        load_kubernetes_config([str(path)])
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_template_that_is_not_a_job_creates_no_run(
    kube: FakeKubeApi, project: Path, client: TrackingClient, tmp_path: Path
) -> None:
    template = tmp_path / "deployment.yaml"
    template.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    config = KubernetesConfig("registry.example.com/x", kube_job_template_path=template)
    with pytest.raises(InvalidInputError) as caught:
        submit_kubernetes(
            RunRequest(str(project), env_manager="local"), config, client, image=IMAGE
        )
    assert caught.value.message == (
        f"the Job template {template} must be a Job (apiVersion: batch/v1, kind: Job), "
        "not apps/v1 Deployment"
    )
    assert client.search_runs() == []
    assert kube.calls == []


def test_an_unknown_context_creates_no_run(
    kube: FakeKubeApi, project: Path, client: TrackingClient
) -> None:
    config = KubernetesConfig("registry.example.com/x", kube_context="prod")
    with pytest.raises(api.KubernetesError) as caught:
        submit_kubernetes(
            RunRequest(str(project), env_manager="local"), config, client, image=IMAGE
        )
    assert "kube-context 'prod' is not in the kubeconfig" in caught.value.message
    assert "(it has fake)" in caught.value.message
    assert client.search_runs() == []


def test_a_project_without_a_docker_env_creates_no_run(
    kube: FakeKubeApi, project: Path, client: TrackingClient
) -> None:
    (project / "MLproject").write_text("name: plain\nentry_points:\n  main:\n    command: echo\n")
    with pytest.raises(InvalidInputError, match="runs the project's docker_env image"):
        submit_kubernetes(
            RunRequest(str(project)), KubernetesConfig("r.example.com/x"), client, image=IMAGE
        )
    assert client.search_runs() == []


# -- against the fake API server ---------------------------------------------------


def submit(project: Path, client: TrackingClient, **config: Any) -> KubernetesSubmission:
    request = RunRequest(str(project), parameters={"alpha": "0.5"}, env_manager="local")
    return submit_kubernetes(
        request,
        KubernetesConfig("registry.example.com/team/k8s-demo", **config),
        client,
        image=IMAGE,
    )


def follow(client: TrackingClient, job: KubernetesSubmission, echo: Any = None) -> Any:
    cluster = api.connect(None)
    try:
        return follow_kubernetes_job(
            client, cluster, job.run_id, job.namespace, job.job_name, job.uid, echo=echo
        )
    finally:
        cluster.close()


def test_a_job_that_succeeds_ends_the_run_finished(
    kube: FakeKubeApi, project: Path, client: TrackingClient, tmp_path: Path
) -> None:
    kube.script = Script(log=b"epoch 1\nloss: 0.25\n")
    job = submit(project, client, resources={"limits": {"memory": "1Gi"}})
    run = client.get_run(job.run_id)
    assert run.info.status == "SCHEDULED"
    tags = run.data.tags
    assert tags[system_tags.KUBERNETES_JOB] == f"ml/k8s-demo-{job.run_id[:12]}"
    assert tags[system_tags.KUBERNETES_JOB_UID] == job.uid
    assert tags[system_tags.KUBERNETES_CONTEXT] == "fake"
    assert tags[system_tags.BACKEND] == "kubernetes"
    assert tags[system_tags.DOCKER_IMAGE_URI] == IMAGE.reference
    assert run.data.params == {"alpha": "0.5"}

    (created,) = kube.calls_to("POST", "/apis/batch/v1/namespaces/ml/jobs")
    assert created.query == {"fieldValidation": "Strict"}
    manifest = created.body
    assert schema_round_trip(manifest) == manifest
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "python",
        "-m",
        "mlcli",
        "run",
        "/mlcli/project",
        "--run-id",
        job.run_id,
        "--entry-point",
        "main",
        "--env-manager",
        "local",
        "--param",
        'alpha="0.5"',
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MLCLI_RUN_ID"] == env["MLFLOW_RUN_ID"] == job.run_id
    assert env["MLCLI_STORE"] == str(client.store.root.resolve())
    assert container["resources"] == {"limits": {"memory": "1Gi"}}
    saved = client.artifact_path(job.run_id, MANIFEST_ARTIFACT).read_text()
    assert yaml.safe_load(saved) == manifest

    echo = tmp_path / "echo"
    with echo.open("wb") as handle:
        ended = follow(client, job, handle)
    assert (ended.status, ended.exit_code, ended.code) == ("FINISHED", 0, "Complete")
    assert echo.read_bytes() == b"epoch 1\nloss: 0.25\n"
    run = client.get_run(job.run_id)
    assert run.info.status == "FINISHED"
    assert system_tags.PROJECT_FAILURE_REASON not in run.data.tags

    jobs_path = "/apis/batch/v1/namespaces/ml/jobs"
    (watch, *_) = [c for c in kube.calls if c.method == "GET" and c.path == jobs_path]
    assert watch.query["watch"] == "true"
    assert watch.query["fieldSelector"] == f"metadata.name={job.job_name}"
    assert int(watch.query["timeoutSeconds"]) > 0
    pods = kube.calls_to("GET", "/api/v1/namespaces/ml/pods")
    assert pods[0].query == {"labelSelector": f"job-name={job.job_name}"}
    (log,) = [c for c in pods if c.path.endswith("/log")]
    assert log.query == {"container": "k8s-demo", "follow": "true"}
    assert kube.calls_to("DELETE", "/jobs/") == []


@pytest.mark.parametrize(
    ("outcome", "code", "reason"),
    [
        ("fail", "BackoffLimitExceeded", "container k8s-demo Error (exit code 1)"),
        ("oom", "OOMKilled", "container k8s-demo OOMKilled (exit code 137)"),
        ("deadline", "DeadlineExceeded", "Job was active longer than specified deadline"),
    ],
)
def test_a_job_that_fails_ends_the_run_failed_with_the_reason(
    kube: FakeKubeApi, project: Path, client: TrackingClient, outcome: str, code: str, reason: str
) -> None:
    kube.script = Script(outcome=outcome)
    job = submit(project, client)
    ended = follow(client, job)
    assert (ended.status, ended.code) == ("FAILED", code)
    tags = client.get_run(job.run_id).data.tags
    assert client.get_run(job.run_id).info.status == "FAILED"
    assert tags[system_tags.KUBERNETES_REASON] == code
    assert tags[system_tags.PROJECT_FAILURE_REASON].startswith(
        f"Kubernetes Job ml/{job.job_name} failed: "
    )
    assert reason in tags[system_tags.PROJECT_FAILURE_REASON]


def test_runs_cancel_deletes_the_job_and_the_run_ends_killed(
    kube: FakeKubeApi, project: Path, client: TrackingClient, store_root: Path
) -> None:
    kube.script = Script(outcome="hang")
    job = submit(project, client)
    result: list[Any] = []
    follower = threading.Thread(target=lambda: result.append(follow(client, job)))
    follower.start()
    assert kube.log_opened.wait(60)
    elsewhere = TrackingClient(store_root)  # as another process would (a client per thread)
    cancelled = cancel_kubernetes_run(elsewhere, job.run_id[:8])
    follower.join(60)
    assert cancelled.status == "KILLED"
    assert result and result[0].status == "KILLED"
    assert client.get_run(job.run_id).info.status == "KILLED"
    (delete,) = kube.calls_to("DELETE", f"/apis/batch/v1/namespaces/ml/jobs/{job.job_name}")
    assert delete.body["propagationPolicy"] == "Foreground"
    assert delete.body["preconditions"] == {"uid": job.uid}
    assert kube.jobs == {}
    with pytest.raises(InvalidInputError, match="is KILLED: there is nothing to cancel"):
        cancel_kubernetes_run(elsewhere, job.run_id)


def test_ctrl_c_while_following_deletes_the_job(
    kube: FakeKubeApi, project: Path, client: TrackingClient
) -> None:
    kube.script = Script(outcome="hang")
    job = submit(project, client)

    def interrupt() -> None:
        if kube.log_opened.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    ended = follow(client, job)
    assert (ended.status, ended.code) == ("KILLED", "Deleted")
    assert client.get_run(job.run_id).info.status == "KILLED"
    (delete,) = kube.calls_to("DELETE", f"/jobs/{job.job_name}")
    assert delete.body["propagationPolicy"] == "Foreground"


def test_a_job_deleted_elsewhere_ends_the_run_killed(
    kube: FakeKubeApi, project: Path, client: TrackingClient
) -> None:
    kube.script = Script(outcome="hang")
    job = submit(project, client)
    threading.Thread(
        target=lambda: kube.log_opened.wait(60) and kube.delete_job("ml", job.job_name, {}),
        daemon=True,
    ).start()
    ended = follow(client, job)
    assert (ended.status, ended.code) == ("KILLED", "Deleted")


def test_a_job_the_server_refuses_ends_the_run_failed(
    kube: FakeKubeApi, project: Path, client: TrackingClient
) -> None:
    with pytest.raises(MlcliError) as caught:
        submit(project, client, namespace="nowhere")
    run_id = client.search_runs()[0].info.run_id
    assert caught.value.message == (
        'cannot create the Job: HTTP 404: namespaces "nowhere" not found '
        f"(run {run_id} ended FAILED)"
    )
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags[system_tags.PROJECT_FAILURE_REASON].startswith("cannot create the Job")


# -- the Job as the run's owner ----------------------------------------------------


def test_the_job_owns_the_run_and_a_reader_ends_it_when_the_job_fails(
    kube: FakeKubeApi, project: Path, client: TrackingClient, store_root: Path
) -> None:
    kube.script = Script(outcome="oom")
    job = submit(project, client)
    owner = json.loads((store_root / "runs" / job.run_id / "run.json").read_text())["owner"]
    assert owner == {
        "kind": "kubernetes",
        "namespace": "ml",
        "name": job.job_name,
        "uid": job.uid,
        "context": "fake",
    }
    (resume,) = kube.calls_to("PATCH", f"/jobs/{job.job_name}")
    assert resume.body == {"spec": {"suspend": False}}
    (created,) = kube.calls_to("POST", "/jobs")
    assert created.body["spec"]["suspend"] is True
    env = {e["name"]: e for e in created.body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLCLI_KUBERNETES_JOB"]["value"] == f"ml/{job.job_name}"
    assert env["MLCLI_KUBERNETES_CONTEXT"]["value"] == "fake"

    reader = TrackingClient(store_root)
    assert [r.info.status for r in reader.search_runs()] == ["SCHEDULED"]  # the Job runs
    (pod,) = kube.pods
    kube.end_pod(pod)  # the container is killed for its memory
    (run,) = TrackingClient(store_root).search_runs()
    assert run.info.status == "FAILED"
    assert run.data.tags[system_tags.KUBERNETES_REASON] == "OOMKilled"
    assert "container k8s-demo OOMKilled (exit code 137)" in (run.data.tags[system_tags.END_REASON])


def test_a_reader_ends_a_run_whose_job_was_deleted_killed(
    kube: FakeKubeApi, project: Path, client: TrackingClient, store_root: Path
) -> None:
    kube.script = Script(outcome="hang")
    job = submit(project, client)
    kube.delete_job("ml", job.job_name, {})
    (run,) = TrackingClient(store_root).search_runs()
    assert run.info.status == "KILLED"
    assert run.data.tags[system_tags.END_REASON] == f"Kubernetes Job ml/{job.job_name} was deleted"


def test_a_cluster_that_cannot_be_asked_leaves_the_run_alone(
    kube: FakeKubeApi,
    project: Path,
    client: TrackingClient,
    store_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    job = submit(project, client)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    kube.delete_job("ml", job.job_name, {})
    (run,) = TrackingClient(store_root).search_runs()
    assert run.info.status == "SCHEDULED"


# -- the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kube-context": "fake"}, "the kubernetes backend needs repository-uri"),
        (
            {"repository-uri": "r.example.com/x", "kube_context": "fake", "gpus": 1},
            "unknown Kubernetes config key 'gpus'",
        ),
    ],
)
def test_bad_config_on_the_command_line_is_one_line_and_creates_no_run(
    kube: FakeKubeApi,
    project: Path,
    client: TrackingClient,
    cli: Any,
    tmp_path: Path,
    config: dict[str, Any],
    message: str,
) -> None:
    path = tmp_path / "kubernetes_config.json"
    path.write_text(json.dumps(config))
    result = cli("run", str(project), "--backend", "kubernetes", "--backend-config", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"mlcli: error: {path}: {message}") or result.stderr.startswith(
        f"mlcli: error: {message}"
    )
    assert result.stderr.count("\n") == 1
    assert client.search_runs() == []
    assert kube.calls == []


def test_a_template_that_is_not_a_job_on_the_command_line(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any, tmp_path: Path
) -> None:
    template = tmp_path / "pod.yaml"
    template.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")
    result = cli(
        "run",
        str(project),
        "--env-manager",
        "local",
        "--backend",
        "kubernetes",
        "-c",
        "repository-uri=r.example.com/x",
        "-c",
        f"kube-job-template-path={template}",
    )
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: the Job template {template} must be a Job (apiVersion: batch/v1, "
        "kind: Job), not v1 Pod\n",
    )
    assert client.search_runs() == []


# -- the image (a real engine; no registry can run here) ---------------------------


def test_the_image_is_built_tagged_and_pushed_through_the_docker_api(
    container_engine: Any, project: Path, client: TrackingClient
) -> None:
    """No registry can run on the test machines: the push goes to a closed port of
    127.0.0.1, and its refusal names the repository and tag it pushed."""
    from mlcli.clusters.kubernetes_image import build_and_push
    from mlcli.errors import EnvironmentFailure
    from mlcli.projects import plan_run
    from mlcli.projects.feedback import SilentFeedback

    plan = plan_run(RunRequest(str(project), env_manager="local"))
    repository = "127.0.0.1:9/team/k8s-demo"
    with pytest.raises(EnvironmentFailure) as caught:
        build_and_push(plan, repository, RUN_ID, SilentFeedback(), docker=container_engine)
    assert caught.value.message.startswith(f"pushing {repository}:{RUN_ID} failed: ")
    assert "\n" not in caught.value.message
    image = container_engine.images.get(f"{repository}:{RUN_ID}")
    assert f"{repository}:{RUN_ID}" in image.tags
    container_engine.images.remove(f"{repository}:{RUN_ID}")


# -- in the pod, and mlcli runs cancel ---------------------------------------------


def test_in_the_pod_mlcli_run_keeps_the_job_as_the_owner(
    kube: FakeKubeApi, project: Path, client: TrackingClient, store_root: Path, tmp_path: Path
) -> None:
    """What the pod runs, run here with the variables its manifest gives it: the run
    becomes RUNNING owned by the Job (so any reader can judge it), then FINISHED."""
    job = submit(project, client)
    (created,) = kube.calls_to("POST", "/jobs")
    container = created.body["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    env["MLCLI_KUBERNETES_JOB_UID"] = job.uid  # what the downward API gives the pod
    owner_file = tmp_path / "owner.json"
    (project / "train.py").write_text(
        "import json, os, sys\n"
        "doc = json.load(open(os.path.join(os.environ['MLCLI_STORE'], 'runs',"
        " os.environ['MLCLI_RUN_ID'], 'run.json')))\n"
        f"open({str(owner_file)!r}, 'w').write(json.dumps([doc['status'], doc['owner']]))\n"
    )
    argv = [sys.executable, *container["command"][1:]]
    argv[argv.index("/mlcli/project")] = str(project)
    done = subprocess.run(
        argv,
        env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status, owner = json.loads(owner_file.read_text())
    assert status == "RUNNING"
    assert owner == {
        "kind": "kubernetes",
        "namespace": "ml",
        "name": job.job_name,
        "uid": job.uid,
        "context": "fake",
    }
    run = TrackingClient(store_root).get_run(job.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.5"}


def test_runs_cancel_on_the_command_line(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    kube.script = Script(outcome="hang")
    job = submit(project, client)
    result = cli("runs", "cancel", job.run_id[:8])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        f"Cancelled Kubernetes Job ml/{job.job_name}; run {job.run_id[:8]} ended KILLED\n"
    )
    assert client.get_run(job.run_id).info.status == "KILLED"
    assert kube.jobs == {}


def test_the_command_builds_the_image_and_a_refused_push_ends_the_run_failed(
    container_engine: Any, kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    """The whole command with a real engine: the project's image is built and pushed
    to a registry that is not there; the run ends FAILED and no Job is created."""
    repository = "127.0.0.1:9/team/k8s-demo"
    result = cli(
        "run", str(project), "--backend", "kubernetes", "-c", f"repository-uri={repository}"
    )
    (run,) = client.search_runs()
    run_id = run.info.run_id
    assert result.exit_code == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith(f"mlcli: error: pushing {repository}:{run_id} failed: ")
    assert error.endswith(f"(run {run_id} ended FAILED)")
    assert run.info.status == "FAILED"
    assert run.data.tags[system_tags.BACKEND] == "kubernetes"
    assert kube.calls == []
    container_engine.images.remove(f"{repository}:{run_id}")


# -- the command, with an image already pushed (no build) --------------------------


def run_command(cli: Any, project: Path, *more: str) -> Any:
    return cli(
        "run", str(project), "-P", "alpha=0.3", "--backend", "kubernetes",
        "-c", "repository-uri=registry.example.com/team/k8s-demo",
        "-c", f"image={IMAGE.reference}", *more,
    )  # fmt: skip


def test_the_command_detached(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    result = run_command(cli, project, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    run = client.get_run(shown["run_id"])
    assert shown == {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "job": f"ml/k8s-demo-{run.info.run_id[:12]}",
        "status": "SCHEDULED",
    }
    assert run.info.status == "SCHEDULED"
    assert run.data.tags[system_tags.DOCKER_IMAGE_URI] == IMAGE.reference
    assert "submitted as Kubernetes Job ml/k8s-demo-" in result.stderr
    store = client.store.root.resolve()
    assert f"The pod logs to the store at {store}: the Job template must mount it" in (
        result.stderr
    )
    (created,) = kube.calls_to("POST", "/jobs")
    assert created.body["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE.reference
    assert kube.log_opened.is_set() is False  # nobody follows it


def test_the_command_follows_the_job_to_its_end(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    kube.script = Script(log=b"training\nloss: 0.125\n")
    result = run_command(cli, project)
    assert result.exit_code == 0, result.stderr
    (run,) = client.search_runs()
    assert result.stdout == f"training\nloss: 0.125\n{run.info.run_id}\n"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.3"}


def test_the_command_exits_1_when_the_job_fails(
    kube: FakeKubeApi, project: Path, client: TrackingClient, cli: Any
) -> None:
    kube.script = Script(outcome="oom")
    result = run_command(cli, project, "--json")
    assert result.exit_code == 1
    shown = json.loads(result.stdout)
    assert (shown["status"], shown["exit_code"], shown["reason"]) == ("FAILED", 1, "OOMKilled")
    assert "OOMKilled (exit code 137)" in result.stderr
