"""``python_env.yaml``: the Python version and pip requirements of a virtualenv.

The format is MLflow's (``python:`` and ``dependencies:``). ``-r``/``-c`` lines name files
relative to the project; their contents (and those of files they include) are part
of the cache key, so editing ``requirements.txt`` gives a new environment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.known_keys import reject_unknown_keys
from mlcli.projects.cache import digest

_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(\s*=\s*|\s+|(?=\S))(\S.*)$")
_LOCAL_OPTION = re.compile(r"^(-f|--find-links|-e|--editable)(\s*=\s*|\s+)(\S.*)$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}\Z")


@dataclass(frozen=True)
class PythonEnvSpec:
    python: str | None = None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> PythonEnvSpec:
        from mlcli.projects.yamlfile import load_yaml_file

        document = load_yaml_file(path, "the python_env file") or {}
        if not isinstance(document, dict):
            raise InvalidInputError(f"{path}: expected a mapping with python and dependencies")
        reject_unknown_keys(
            document,
            {"python", "build_dependencies", "dependencies"},
            where=str(path),
            hint="valid: python, build_dependencies, dependencies",
        )
        python = document.get("python")
        if python is not None and (not isinstance(python, str) or not _VERSION.match(python)):
            raise InvalidInputError(
                f'{path}: \'python\' must be a version such as "3.11" or "3.11.7", not {python!r}'
            )
        return cls(
            python=python,
            build_dependencies=_requirements(document.get("build_dependencies"), path),
            dependencies=_requirements(document.get("dependencies"), path),
        )

    def requirement_lines(self, lines: tuple[str, ...], project_dir: Path) -> list[str]:
        """``lines`` with the local paths they name (``-r``, ``-c``, ``-f``, ``-e``,
        ``./package``) made absolute, relative to the project directory."""
        result = []
        for line in lines:
            text = line.strip()
            match = _INCLUDE.match(text) or _LOCAL_OPTION.match(text)
            if match and "://" not in match.group(3):
                result.append(f"{match.group(1)} {(project_dir / match.group(3)).resolve()}")
            elif text.startswith(("./", "../")):
                result.append(str((project_dir / text).resolve()))
            else:
                result.append(text)
        return result

    def cache_key(self, project_dir: Path, python_version: str) -> str:
        """A digest of the spec, the Python version it resolves to and the contents of
        every requirements file it includes."""
        spec = json.dumps(
            {
                "python": python_version,
                "build_dependencies": list(self.build_dependencies),
                "dependencies": list(self.dependencies),
            },
            sort_keys=True,
        )
        included = self.requirement_lines(self.build_dependencies, project_dir)
        included += self.requirement_lines(self.dependencies, project_dir)
        contents = [_included_contents(line, set()) for line in included]
        return digest([spec, *contents])


def _requirements(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{path}: dependencies must be a list of requirement strings")
    return tuple(v.strip() for v in value if v.strip())


def _included_contents(line: str, seen: set[Path]) -> str:
    """The text of the file a ``-r``/``-c`` line names, with the files it includes."""
    match = _INCLUDE.match(line)
    if not match:
        return ""
    path = Path(match.group(3)).resolve()
    if path in seen:
        return ""
    seen.add(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidInputError(f"the requirements file {path} does not exist") from None
    nested = []
    for inner in text.splitlines():
        inner_match = _INCLUDE.match(inner.strip())
        if inner_match:
            target = (path.parent / inner_match.group(3)).resolve()
            nested.append(_included_contents(f"-r {target}", seen))
    return "\n".join([f"# {path}", text, *nested])
