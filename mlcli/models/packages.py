"""Optional packages: importing them with a clear error, and pinning them in requirements.

scikit-learn, pandas, numpy, skops and cloudpickle are not dependencies of mlcli; the
users who need models bring them. Everything that needs one imports it through
:func:`require` inside the function that needs it, so ``mlcli --help`` never pays for it.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from importlib import metadata
from types import ModuleType

from mlcli.models.errors import MissingDependencyError

# import name -> the distribution to pip install
DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "skops.io": "skops",
    "matplotlib": "matplotlib",
}


def require(module: str, purpose: str) -> ModuleType:
    """``import module``, or MissingDependencyError naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the package is there but broken: show the real error
        dist = DISTRIBUTIONS.get(module, DISTRIBUTIONS.get(top, top))
        raise MissingDependencyError(
            f"{purpose} needs the '{dist}' package, which is not installed: pip install {dist}"
        ) from None


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def pinned(dist: str) -> str:
    """``name==version`` for an installed distribution, the bare name otherwise. A local
    version label (``2.1.0+cpu``) is dropped: an index has only the release."""
    version = installed_version(dist)
    return f"{dist}=={release_version(version)}" if version else dist


def release_version(version: str) -> str:
    """``version`` without its local label (``+cpu``)."""
    return version.split("+", 1)[0]


def distributions_of(modules: set[str]) -> list[str]:
    """The installed distributions providing these modules (stdlib and mlcli left out)."""
    mapping = _top_level_distributions()
    found: set[str] = set()
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in ("builtins", "__main__", "mlcli"):
            continue
        found.update(mapping.get(top, ()))
    return sorted(found)


@cache
def _top_level_distributions() -> dict[str, tuple[str, ...]]:
    return {top: tuple(dists) for top, dists in metadata.packages_distributions().items()}
