"""Inside a run's pod: which Job carries it, from the variables its manifest sets
(``MLCLI_KUBERNETES_JOB``: namespace/name and ``MLCLI_KUBERNETES_CONTEXT``, known
when the manifest is written; ``MLCLI_KUBERNETES_JOB_UID``: the uid, through the
downward API from the ``controller-uid`` label the Job controller puts on its pods),
so that ``mlcli run --run-id`` in the pod keeps the Job as the run's owner.
"""

from __future__ import annotations

import os

JOB_VARIABLE = "MLCLI_KUBERNETES_JOB"
JOB_UID_VARIABLE = "MLCLI_KUBERNETES_JOB_UID"
CONTEXT_VARIABLE = "MLCLI_KUBERNETES_CONTEXT"
#: The pod label (Kubernetes 1.27+) the uid is read from.
JOB_UID_FIELD = "metadata.labels['batch.kubernetes.io/controller-uid']"


def job_here() -> tuple[str, str, str, str | None] | None:
    """``(namespace, name, uid, context)`` of the Job whose pod this process runs in;
    None outside one."""
    job, uid = os.environ.get(JOB_VARIABLE, ""), os.environ.get(JOB_UID_VARIABLE, "")
    namespace, _, name = job.partition("/")
    if not (namespace and name and uid):
        return None
    return namespace, name, uid, os.environ.get(CONTEXT_VARIABLE) or None
