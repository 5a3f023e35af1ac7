"""Store upkeep: ``mlcli init``, ``mlcli gc``, ``mlcli fsck`` and ``mlcli index``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlcli.cli.options import JsonOption, QuietOption
from mlcli.cli.output import Output, byte_size
from mlcli.cli.state import cli_state

index_app = typer.Typer(
    help="Maintain the SQLite index (a cache of the run files).", no_args_is_help=True
)


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Where to create .mlruns (default: here).")
    ] = Path("."),
    shared: Annotated[
        str,
        typer.Option(
            "--shared",
            metavar="umask|group",
            help="group: writable by the group of the folder that holds it, whatever "
            "each member's umask (POSIX ACLs). umask (default): as the umask says.",
        ),
    ] = "umask",
    quiet: QuietOption = False,
) -> None:
    """Create a .mlruns store here (idempotent; --shared=group also converts one).

    Inside a git work tree, .mlruns/ is added to the .gitignore beside it.

    Example: mlcli init --shared=group
    """
    from mlcli.store.upkeep import init_store

    explicit = cli_state(ctx).store
    setup = init_store(directory, shared, Path(explicit) if explicit else None)
    out = Output(quiet=quiet)
    out.info(f"{'Created' if setup.created else 'Found'} an mlcli store at {setup.root}")
    if setup.group is not None:
        out.info(
            f"Shared it with group {setup.group}: its members can write it, whatever their umask"
        )
    if setup.gitignored:
        out.info(f"Added {setup.root.name}/ to {setup.root.parent / '.gitignore'}")


def gc(
    ctx: typer.Context,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", help="Only what was deleted at least this long ago (e.g. 30d, 12h)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would go.")] = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Permanently remove deleted runs (with their artifacts) and deleted experiments,
    and the temporary files of writers killed over an hour ago.

    Example: mlcli gc --older-than 30d
    """
    from mlcli.clock import parse_duration_ms
    from mlcli.store.gc import collect_garbage

    older_than_ms = parse_duration_ms(older_than) if older_than else 0
    from mlcli.store import file_store

    store = file_store(cli_state(ctx).client().store, "mlcli gc")
    result = collect_garbage(store, older_than_ms, dry_run)
    out = Output(json_mode=json_, quiet=quiet)
    leftovers = [
        {"path": str(item.path.relative_to(store.root)), "bytes": item.size}
        for item in result.leftovers
    ]
    if json_:
        out.json(
            {
                "runs": result.runs,
                "experiments": result.experiments,
                "temporary_files": leftovers,
                "dry_run": dry_run,
            }
        )
        return
    out.lines(result.runs)
    verb = "Would remove" if dry_run else "Removed"
    freed = sum(item.size for item in result.leftovers)
    out.info(
        f"{verb} {len(result.runs)} run(s), {len(result.experiments)} experiment(s) and "
        f"{len(leftovers)} temporary file(s) left by killed writers ({byte_size(freed)})"
    )


@index_app.command("rebuild")
def rebuild(ctx: typer.Context, quiet: QuietOption = False) -> None:
    """Rebuild the index from the run files (never needed for correctness: readers
    refresh it, and a missing or damaged index is rebuilt on its own).

    Example: mlcli index rebuild
    """
    import time

    from mlcli.cli.damage import warn_damaged_runs
    from mlcli.store import file_store
    from mlcli.store.upkeep import rebuild_index

    store = file_store(cli_state(ctx).client().store, "mlcli index rebuild")
    out = Output(quiet=quiet)
    started = time.perf_counter()
    with out.progress("Indexing runs") as progress:
        rebuilt = rebuild_index(store, progress)
    seconds = time.perf_counter() - started
    out.info(f"Indexed {rebuilt.runs} run(s) in {seconds:.2f}s into {rebuilt.path}")
    warn_damaged_runs(out, store)


def fsck(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Do what is safe: trim torn last lines, remove orphans, rebuild the index.",
        ),
    ] = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Check every file of the store: damaged documents, torn or damaged log lines,
    temporary files of killed writers, the index. Exit 0 when nothing is wrong (or
    --repair mended all of it), 1 otherwise.

    Example: mlcli fsck --repair
    """
    from mlcli.store import file_store
    from mlcli.store.fsck import check_store

    store = file_store(cli_state(ctx).client().store, "mlcli fsck")
    report = check_store(store, repair)
    out = Output(json_mode=json_, quiet=quiet)
    if json_:
        out.json(
            {
                "clean": report.clean,
                "files_checked": report.files_checked,
                "problems": [problem.to_dict(store.root) for problem in report.problems],
            }
        )
    else:
        for problem in report.problems:
            where = problem.to_dict(store.root)["path"]
            done = f" [repaired: {problem.repaired}]" if problem.repaired else ""
            out.line(f"{where}: {problem.detail}{done}")
        left = sum(1 for problem in report.problems if not problem.repaired)
        summary = f"Checked {report.files_checked} file(s): {len(report.problems)} problem(s)"
        if report.problems:
            summary += f", {left} left for a person" if left else ", all repaired"
        out.info(summary)
    if not report.clean:
        raise typer.Exit(1)
