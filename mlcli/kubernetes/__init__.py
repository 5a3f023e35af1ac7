"""Kubernetes Jobs below the store: the API calls through the official ``kubernetes``
client (``api``), what a finished Job means for the run it carried (``outcome``), the
store's question "has this run's Job finished?" (``judge``) and, inside a pod, which
Job carries its run (``pod``).

A leaf part (it imports only ``mlcli.errors``), so that the store can ask whether a
run's owning Job still runs, and the backend above it (``mlcli.clusters``) can build
on the same calls. The client (the ``kubernetes`` extra) is imported only when a
Kubernetes run is submitted, followed, cancelled or judged.
"""
