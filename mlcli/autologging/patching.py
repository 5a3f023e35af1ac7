"""Replacing methods on classes so that they can be put back exactly, and knowing
which call is the outermost one of a nest of patched calls."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from types import FunctionType
from typing import Any

_MISSING = object()


class Patches:
    """The methods replaced so far, with their originals."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._saved)

    def replace(self, owner: type, name: str, replacement: Any) -> None:
        """Set ``owner.name`` (as found in the class's own ``__dict__``, or missing)."""
        with self._lock:
            self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
            setattr(owner, name, replacement)

    def restore_all(self) -> None:
        """Put every original back, the same object, newest patch first."""
        with self._lock:
            while self._saved:
                owner, name, original = self._saved.pop()
                if original is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)


def wrap_method(attribute: Any, wrap: Callable[[FunctionType], FunctionType]) -> Any | None:
    """``attribute`` (a class's own method) with its function wrapped: a plain
    function, or a descriptor holding one in ``fn`` (scikit-learn's ``available_if``,
    which must stay a descriptor so that ``hasattr`` keeps its meaning). None for
    anything else (a property, a classmethod)."""
    if isinstance(attribute, FunctionType):
        return wrap(attribute)
    inner = getattr(attribute, "fn", None)
    if isinstance(inner, FunctionType) and hasattr(type(attribute), "__get__"):
        wrapped = copy.copy(attribute)
        wrapped.fn = wrap(inner)
        return wrapped
    return None


class OutermostCall:
    """Counts patched calls under way in the whole process. Only a call that starts
    when none is under way is the outermost one: a Pipeline's steps, or the many
    fits of a search (in its joblib threads too), run inside it and are not logged
    on their own. (Two user threads training at once: the second is not logged.)"""

    def __init__(self) -> None:
        self._depth = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """Count a call in; True if it is the outermost."""
        with self._lock:
            self._depth += 1
            return self._depth == 1

    def exit(self) -> None:
        with self._lock:
            self._depth -= 1
