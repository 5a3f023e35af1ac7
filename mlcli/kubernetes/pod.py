"""Inside a run's pod: which Job carries it, from the variables its manifest sets
(``MLCLI_KUBERNETES_JOB``: namespace/name and ``MLCLI_KUBERNETES_CONTEXT``, known
when the manifest is written; ``MLCLI_KUBERNETES_JOB_UID``: the uid, through the
downward API from the ``controller-uid`` label the Job controller puts on its pods),
so that ``mlcli run --run-id`` in the pod keeps the Job as the run's owner. In a
sweep's Indexed Job, the pod's index (``JOB_COMPLETION_INDEX``, set by Kubernetes)
is part of the owner: each trial is one index.
"""

from __future__ import annotations

import os

JOB_VARIABLE = "MLCLI_KUBERNETES_JOB"
JOB_UID_VARIABLE = "MLCLI_KUBERNETES_JOB_UID"
CONTEXT_VARIABLE = "MLCLI_KUBERNETES_CONTEXT"
#: Set by Kubernetes in each pod of an Indexed Job.
INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
#: The variable that carries the sweep's plan to its pods.
PLAN_VARIABLE = "MLCLI_SWEEP_PLAN"
#: The parent run of the trials, in each pod; and, set to 1, that nobody follows the
#: sweep (the last trial to end ends it).
PARENT_VARIABLE = "MLCLI_SWEEP_PARENT"
DETACHED_VARIABLE = "MLCLI_SWEEP_DETACHED"
#: The pod label (Kubernetes 1.27+) the uid is read from.
JOB_UID_FIELD = "metadata.labels['batch.kubernetes.io/controller-uid']"


def job_here() -> tuple[str, str, str, str | None, int | None] | None:
    """``(namespace, name, uid, context, index)`` of the Job whose pod this process
    runs in (index: None unless an Indexed Job's); None outside one."""
    job, uid = os.environ.get(JOB_VARIABLE, ""), os.environ.get(JOB_UID_VARIABLE, "")
    namespace, _, name = job.partition("/")
    if not (namespace and name and uid):
        return None
    index = os.environ.get(INDEX_VARIABLE, "")
    context = os.environ.get(CONTEXT_VARIABLE) or None
    return namespace, name, uid, context, int(index) if index.isdigit() else None
