"""Which modules loading a pickle imports, read from its opcodes without running it.

A pickle names every class and function it stores by reference as ``module`` plus
``name`` (the GLOBAL opcode, or STACK_GLOBAL after two pushed strings); unpickling
imports those modules. Classes stored by value (cloudpickle's, for ``__main__``) are
rebuilt from their code and import nothing of their own, but a module their functions
use is stored as a call of cloudpickle's ``subimport`` with its name, which is read too.
"""

from __future__ import annotations

import pickletools
from typing import Any

_MEMO_STORES = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_LOADS = {"GET", "BINGET", "LONG_BINGET"}
_GLOBAL = "global"  # pushed[...] == (_GLOBAL, name): a class or function was pushed
_NO_PUSH = {"PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK"}


def imported_modules(data: bytes) -> set[str]:
    """The modules unpickling ``data`` imports (a malformed pickle names what it can)."""
    modules: set[str] = set()
    memo: dict[int, Any] = {}
    pushed: list[Any] = [None, None]  # the last two values pushed on the stack
    subimport = False  # the next string pushed names a module cloudpickle imports
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            awaiting, before = subimport, len(pushed)
            if name == "GLOBAL":
                module, _, attribute = str(arg).partition(" ")
                modules.add(module)
                pushed.append((_GLOBAL, attribute))
            elif name == "STACK_GLOBAL":
                if isinstance(pushed[-2], str):
                    modules.add(pushed[-2])
                pushed.append((_GLOBAL, pushed[-1]))
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1]
            elif name in _MEMO_STORES:
                memo[int(str(arg))] = pushed[-1]
            elif name in _MEMO_LOADS:
                pushed.append(memo.get(int(str(arg))))
            elif name not in _NO_PUSH:
                pushed.append(arg if isinstance(arg, str) else None)
            if awaiting and len(pushed) > before and isinstance(pushed[-1], str):
                modules.add(pushed[-1])
                subimport = False
            elif name in ("GLOBAL", "STACK_GLOBAL") or name in _MEMO_LOADS:
                subimport = pushed[-1] == (_GLOBAL, "subimport")
            del pushed[:-2]
    except ValueError:  # truncated or not a pickle
        pass
    return modules


def imports_package(data: bytes, package: str) -> bool:
    """Whether unpickling ``data`` imports ``package`` or one of its modules."""
    return any(m == package or m.startswith(f"{package}.") for m in imported_modules(data))
