"""Reading the project's YAML files with every scalar kept as the text the user wrote.

YAML would turn ``alpha: 0.10`` into the float 0.1 and ``python: 3.10`` into 3.1;
a project's defaults and versions are strings, so only ``null`` (``~`` or nothing)
keeps its meaning here and everything else stays text.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError


def load_yaml_file(path: Path, what: str, *, typed: bool = False) -> Any:
    """The document in ``path``; InvalidInputError with the line of a syntax error.
    ``typed``: numbers and booleans read as YAML reads them (a Kubernetes manifest)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{what} {path} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} {path} is not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=yaml.SafeLoader if typed else _text_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInputError(f"{what} {path} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise InvalidInputError(f"{what} {path} nests too deeply to be read") from None


@functools.cache
def _text_loader() -> Any:
    """A SafeLoader that resolves no implicit type but null."""
    import yaml

    class TextScalarLoader(yaml.SafeLoader):
        pass

    null = "tag:yaml.org,2002:null"
    TextScalarLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == null]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return TextScalarLoader
