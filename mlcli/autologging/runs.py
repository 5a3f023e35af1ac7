"""Which run an autologged fit logs to.

The active run if it has no autologged fit yet; a child of it if it has (so a second
model never collides with the first one's params and ``model`` artifact); a new run
when none is active, ended after the fit once its model is in place (the model is
logged on a thread after ``fit`` returns: ``mlcli.tracking.background``). Inside
``mlcli run`` "none active" means the run ``mlcli run`` created (``MLCLI_RUN_ID``),
which ``mlcli run`` ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlcli import system_tags
from mlcli.store import RunStatus


@contextmanager
def autolog_run(flavor: str) -> Iterator[str]:
    """The id of the run a fit logs to, for the duration of the fit and its logging;
    the runs started here end FINISHED, or FAILED when the block raises."""
    from mlcli import fluent

    started: list[str] = []
    active = fluent.active_run()
    fresh = active is None
    if active is None:
        active = fluent.start_run(tags={system_tags.AUTOLOGGING: flavor})
        started.append(active.run_id)
        fresh = not active.attached
    if not fresh and system_tags.AUTOLOGGING in fluent.get_run(active.run_id).data.tags:
        active = fluent.start_run(nested=True, tags={system_tags.AUTOLOGGING: flavor})
        started.append(active.run_id)
    try:
        yield active.run_id
    except BaseException as exc:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        for _ in started:  # ours are on top of the active-run stack, newest last
            fluent._session.end_run(status, wait=False)
        raise
    for _ in started:  # ended by the background thread once the model is logged
        fluent._session.end_run(RunStatus.FINISHED, wait=False)
