"""`mlcli run` overhead: what it adds to running the entry point's command directly.

Run: python3 benchmarks/run_overhead.py [--repeat N] [--docker]

A project whose entry point is `python work.py` (a script that prints a line) runs N
times each way, interleaved so that machine noise hits all alike:

- directly: `python work.py`;
- `mlcli run --env-manager local`;
- `mlcli run --env-manager virtualenv`, with the environment already made;
- with --docker, `mlcli run` in a container of python:3.11-slim (runtime image built).

The overhead is the difference of medians. First-creation times are measured once
each, in a fresh cache: a virtualenv without packages, and one with a package
installed from a local wheel (offline). Targets: under 0.3 s with local, under 1 s
with a cached virtualenv.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

MLPROJECT = """
name: bench
python_env: python_env.yaml
entry_points:
  main:
    command: "python work.py"
"""


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def _wheel(folder: Path) -> None:
    folder.mkdir()
    info = "benchdep-1.0.dist-info"
    files = {
        "benchdep/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: benchdep\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [
        f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}"
        for p, t in files.items()
    ]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / "benchdep-1.0-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def _project(root: Path, dependencies: list[str], docker: bool = False) -> Path:
    root.mkdir(parents=True)
    spec = MLPROJECT
    if docker:
        spec = spec.replace("python_env: python_env.yaml", "docker_env: {image: python:3.11-slim}")
    (root / "MLproject").write_text(spec)
    (root / "python_env.yaml").write_text(
        "dependencies:\n" + "".join(f"  - {d}\n" for d in dependencies)
        if dependencies
        else "dependencies: []\n"
    )
    (root / "work.py").write_text("print('working')\n")
    return root


def _first_creation(mlcli: list[str], project: Path, env: dict[str, str], cache: Path) -> float:
    shutil.rmtree(cache, ignore_errors=True)
    return _time([*mlcli, "run", str(project), "--env-manager", "virtualenv", "-q"], project, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--docker", action="store_true", help="also time a docker run")
    args = parser.parse_args()
    mlcli = [os.path.join(os.path.dirname(sys.executable), "mlcli")]
    if not os.path.exists(mlcli[0]):
        mlcli = [sys.executable, "-m", "mlcli"]
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        cache = base / "cache"
        # Bytecode caching on, as users have it (some shells here disable it).
        skip = ("MLCLI_", "PYTHONDONTWRITEBYTECODE")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(skip)},
            **(
                {"MLCLI_INSTALLER": os.environ["MLCLI_INSTALLER"]}
                if "MLCLI_INSTALLER" in os.environ
                else {}
            ),
            "MLCLI_STORE": str(base / ".mlruns"),
            "MLCLI_CACHE_DIR": str(cache),
            "MLCLI_ENV_ROOT": str(cache / "envs"),
        }
        subprocess.run([*mlcli, "init", "-q"], cwd=base, env=env, check=True)
        plain = _project(base / "plain", [])
        _wheel(base / "wheels")
        with_dep = _project(
            base / "withdep",
            ["--no-index", f"--find-links {base / 'wheels'}", "benchdep==1.0"],
        )
        first_plain = _first_creation(mlcli, plain, env, cache)
        first_dep = _first_creation(mlcli, with_dep, env, cache)
        # Leave the plain one made, for the cached figure.
        _first_creation(mlcli, plain, env, cache)
        commands = {
            "python work.py (directly)": [sys.executable, "work.py"],
            "mlcli run --env-manager local": [*mlcli, "run", ".", "--env-manager", "local", "-q"],
            "mlcli run --env-manager virtualenv (cached)": [
                *mlcli,
                "run",
                ".",
                "--env-manager",
                "virtualenv",
                "-q",
            ],
        }
        cwd = {name: plain for name in commands}
        if args.docker:
            docker_project = _project(base / "docker", [], docker=True)
            commands["mlcli run --env-manager docker (image built)"] = [
                *mlcli,
                "run",
                ".",
                "-q",
                "-A",
                "label=mlcli-test",
            ]
            cwd["mlcli run --env-manager docker (image built)"] = docker_project
            _time(commands["mlcli run --env-manager docker (image built)"], docker_project, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                samples[name].append(_time(command, cwd[name], env))
    baseline = statistics.median(samples["python work.py (directly)"])
    print(f"{'command':48} {'median':>9} {'p90':>9} {'overhead':>9}")
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(
            f"{name:48} {median * 1000:7.0f}ms {p90 * 1000:7.0f}ms "
            f"{(median - baseline) * 1000:7.0f}ms"
        )
    installer = os.environ.get("MLCLI_INSTALLER") or ("uv" if shutil.which("uv") else "pip")
    print(
        f"first creation (installer: {installer}), virtualenv without packages: {first_plain:.2f} s"
    )
    print(f"first creation, virtualenv + one package from a local wheel: {first_dep:.2f} s")


if __name__ == "__main__":
    main()
