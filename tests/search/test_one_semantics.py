"""One filter semantics, in-process: the cases of ``tests/filter_cases.py`` through run
search in SQL (over a real store's index), run search in memory (``evaluate``) and the
server's entity filter (``EntityFilter``, as experiments, registered models, versions
and logged models use it). The same cases run over REST in
``tests/tracking_server/test_server_one_filter_semantics.py``."""

from __future__ import annotations

import random

import pytest
from filter_cases import CASE_IDS, CASES, NAMES, STORED_PROMPT, registry_answer, tags_of
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcli.search import Compare, Field, evaluate, parse_filter
from mlcli.search.entity_filter import EntityFilter, Record
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
    records = [Record({"name": n}, tags_of(n, "mlcli.prompt.is_prompt")) for n in NAMES]
    condition = EntityFilter(mlcli_text, {"name": "text"})
    entities = {r.attributes["name"] for r in records if condition.matches(r)}
    registry = EntityFilter(mlcli_text, {"name": "text"}, prompts=True)
    in_registry = {r.attributes["name"] for r in records if registry.matches(r)}
    assert (in_sql, in_memory, entities) == (expected, expected, expected)
    assert in_registry == registry_answer(text, expected)


def test_the_issues_case_agrees(client: TrackingClient) -> None:
    """``LIKE 'a\\\\_b'`` matched in run search but not in registry search."""
    text = "tags.k LIKE 'a\\\\_b'"
    assert EntityFilter(text, {"name": "text"}).matches(Record({"name": "x"}, {"k": "a_b"}))
    assert [run.info.run_name for run in client.search_runs(["0"], text)] == ["n1"]


# -- property: random AND-chains of tag and param comparisons --------------------------------

TEXT_VALUES = ["a_b", "axb", "A_B", "a%b", "a\\b", "", "0.1", "10", "É", "é", "true", "false"]
PATTERNS = ["%", "a%", "A%", "_", "a\\_b", "a\\%b", "a\\\\b", "a_b", "%b", "é%", "", "t%"]
TAG_KEYS = ["t", "u", "never", "mlcli.prompt.is_prompt"]
PARAM_KEYS = ["p", "never"]
ENTITY_OPS = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]


@pytest.fixture(scope="module")
def random_runs(tmp_path_factory: pytest.TempPathFactory) -> TrackingClient:
    rng = random.Random(16)
    client = TrackingClient(tmp_path_factory.mktemp("random-runs") / ".mlruns")
    for i in range(30):
        tags = {k: rng.choice(TEXT_VALUES) for k in TAG_KEYS if k != "never" and rng.random() < 0.7}
        run = client.create_run("0", run_name=f"r{i}", tags=tags)
        if rng.random() < 0.7:
            client.log_param(run.info.run_id, "p", rng.choice(TEXT_VALUES))
    return client


@st.composite
def entity_comparisons(draw: st.DrawFn) -> Compare:
    field = draw(
        st.one_of(
            st.sampled_from([Field("tag", k) for k in TAG_KEYS]),
            st.sampled_from([Field("param", k) for k in PARAM_KEYS]),
        )
    )
    op = draw(st.sampled_from(ENTITY_OPS))
    if op in ("IS NULL", "IS NOT NULL"):
        return Compare(field, op, None)
    if op in ("IN", "NOT IN"):
        return Compare(field, op, tuple(draw(st.lists(st.sampled_from(TEXT_VALUES), min_size=1))))
    return Compare(field, op, draw(st.sampled_from(PATTERNS if "LIKE" in op else TEXT_VALUES)))


@settings(max_examples=200, deadline=None, database=None)
@given(chain=st.lists(entity_comparisons(), min_size=1, max_size=3))
def test_run_search_in_sql_and_the_entity_filter_agree(
    random_runs: TrackingClient, chain: list[Compare]
) -> None:
    text = " AND ".join(map(str, chain))
    runs = random_runs.search_runs(["0"])
    condition = EntityFilter(text, {"name": "text"}, kinds=("attribute", "tag", "param"))
    by_entity_filter = {
        run.info.run_name
        for run in runs
        if condition.matches(Record({"name": run.info.run_name}, run.data.tags, run.data.params))
    }
    in_sql = {run.info.run_name for run in random_runs.search_runs(["0"], text)}
    assert in_sql == by_entity_filter
