"""One filter semantics, in-process: the cases of ``tests/filter_cases.py`` through run
search in SQL (over a real store's index), run search in memory (``evaluate``) and the
server's entity filter (``EntityFilter``, as experiments, registered models, versions
and logged models use it). The same cases run over REST in
``tests/server/test_server_one_filter_semantics.py``."""

from __future__ import annotations

import pytest
from filter_cases import CASE_IDS, CASES, NAMES, STORED_PROMPT, tags_of

from mlcli.search import evaluate, parse_filter
from mlcli.server.filters import EntityFilter, Record
from mlcli.tracking import TrackingClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TrackingClient:
    client = TrackingClient(tmp_path_factory.mktemp("one-semantics") / ".mlruns")
    for name in NAMES:
        client.create_run("0", run_name=name, tags=tags_of(name, "mlcli.prompt.is_prompt"))
    return client


@pytest.mark.parametrize(("text", "expected"), CASES, ids=CASE_IDS)
def test_run_search_and_entity_filters_agree(
    client: TrackingClient, text: str, expected: set[str]
) -> None:
    mlcli_text = text.format(prompt=STORED_PROMPT)
    runs = client.search_runs(["0"])
    in_sql = {run.info.run_name for run in client.search_runs(["0"], mlcli_text)}
    node = parse_filter(mlcli_text)
    in_memory = {run.info.run_name for run in runs if evaluate(node, run)}
    condition = EntityFilter(mlcli_text, {"name": "text"})
    entities = {
        name
        for name in NAMES
        if condition.matches(Record({"name": name}, tags_of(name, "mlcli.prompt.is_prompt")))
    }
    assert (in_sql, in_memory, entities) == (expected, expected, expected)


def test_the_issues_case_agrees(client: TrackingClient) -> None:
    """``LIKE 'a\\\\_b'`` matched in run search but not in registry search."""
    text = "tags.k LIKE 'a\\\\_b'"
    assert EntityFilter(text, {"name": "text"}).matches(Record({"name": "x"}, {"k": "a_b"}))
    assert [run.info.run_name for run in client.search_runs(["0"], text)] == ["n1"]
