"""``--watch``: follow a stage or an alias, and swap in the version it moves to.

Every ``interval`` seconds the watcher asks the registry which version the URI names
now. When that changes, the new version is loaded in the background while the old
one keeps answering; then one assignment makes it current. Requests that started on
the old version finish on it; no request waits or fails. A failed look or load is
logged and retried at the next interval, the current model staying in service.
(With ``--workers N`` every worker process runs its own watcher.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from mlcli.errors import MlcliError
from mlcli.scoring.served import ServedModel
from mlcli.web.log import ServerLog


@dataclass
class ModelHolder:
    """The current model; replaced whole, never changed in place."""

    current: ServedModel | None = None


class Watcher:
    def __init__(
        self,
        holder: ModelHolder,
        uri: str,
        interval: float,
        current_version: Callable[[str], int | None],
        load: Callable[[str], ServedModel],
        executor: Executor,
        log: ServerLog,
    ) -> None:
        self.holder = holder
        self.uri = uri
        self.interval = interval
        self.current_version = current_version
        self.load = load
        self.executor = executor
        self.log = log
        self._last_problem: str | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

    async def check(self) -> None:
        """One look at the registry; a swap if the URI names another version now."""
        loop = asyncio.get_running_loop()
        serving = self.holder.current
        try:
            version = await loop.run_in_executor(self.executor, self.current_version, self.uri)
            if serving is not None and version == serving.origin.version:
                self._last_problem = None
                return
            self.log.info(f"{self.uri} moved to version {version}: loading it")
            loaded = await loop.run_in_executor(self.executor, self.load, self.uri)
        except (MlcliError, OSError) as exc:
            self._problem(str(exc))
            return
        except Exception as exc:  # a model that fails to load must not stop the server
            self._problem(f"{type(exc).__name__}: {exc}")
            return
        self.holder.current = loaded
        self._last_problem = None
        was = "" if serving is None else f" (was version {serving.origin.version})"
        self.log.info(f"now serving {self.uri} version {loaded.origin.version}{was}")

    def _problem(self, text: str) -> None:
        if text != self._last_problem:  # say it once, not every interval
            self.log.info(f"--watch: {text}; still serving the current version")
        self._last_problem = text
