"""The filter cases every search must answer alike (``tests/search/test_one_semantics.py``
runs them in-process, ``tests/tracking_server/test_server_one_filter_semantics.py`` over REST).

Five entities of each kind, named n1..n5, carry the tag ``k`` = ``a_b``, ``axb``,
``A_B``, ``a%b`` and none; n2 is marked as a prompt. ``{prompt}`` in a filter stands
for the prompt marker's key, written as the caller names it.

``CASES`` gives what runs, experiments and logged models answer, where the marker is
an ordinary tag (a missing one never matches ``!=``). Registered models and model
versions follow MLflow's rule for prompts (``registry_answer``): left out unless the
filter asks for them, conditions on the marker ignored when it does not.
"""

from __future__ import annotations

NAMES = ("n1", "n2", "n3", "n4", "n5")
K_VALUES = {"n1": "a_b", "n2": "axb", "n3": "A_B", "n4": "a%b"}  # n5 has no k
PROMPTS = {"n2"}
ALL = set(NAMES)

CASES: list[tuple[str, set[str]]] = [
    ("tags.k = 'a_b'", {"n1"}),
    ("tags.k != 'a_b'", {"n2", "n3", "n4"}),  # a missing tag never matches !=
    ("tags.k LIKE 'a_b'", {"n1", "n2", "n4"}),
    ("tags.k LIKE 'a\\\\_b'", {"n1"}),  # the case: an escaped _ is literal
    ("tags.k LIKE 'a\\_b'", {"n1"}),  # a backslash before _ is kept as written
    ("tags.k ILIKE 'a\\\\_b'", {"n1", "n3"}),
    ("tags.k LIKE 'a\\\\%b'", {"n4"}),
    ("tags.k LIKE '%'", {"n1", "n2", "n3", "n4"}),
    ("tags.k ILIKE 'A%'", {"n1", "n2", "n3", "n4"}),
    ("tags.k IN ('a_b', 'axb')", {"n1", "n2"}),
    ("tags.k NOT IN ('a_b')", {"n2", "n3", "n4"}),
    ("tags.k IS NULL", {"n5"}),
    ("tags.k IS NOT NULL", {"n1", "n2", "n3", "n4"}),
    ("tags.k = 'a_b' AND tags.k LIKE 'a%'", {"n1"}),
    ("tags.{prompt} != 'true'", set()),  # what MLflow >= 2.21 clients send
    ("tags.{prompt} = 'false'", set()),
    ("tags.{prompt} = 'true'", PROMPTS),
    ("tags.{prompt} != 'false'", PROMPTS),
    ("tags.{prompt} IS NOT NULL", PROMPTS),
    ("tags.{prompt} IS NULL", ALL - PROMPTS),
    ("tags.{prompt} != 'true' AND tags.k LIKE 'a%'", set()),
    ("tags.k = 'axb' AND tags.{prompt} = 'true'", PROMPTS),
]
CASE_IDS = [text for text, _ in CASES]

# Registry answers that are not "CASES' answer without the prompts".
_REGISTRY: dict[str, set[str]] = {
    "tags.{prompt} != 'true'": ALL - PROMPTS,
    "tags.{prompt} = 'false'": ALL - PROMPTS,
    "tags.{prompt} = 'true'": PROMPTS,
    "tags.{prompt} != 'false'": PROMPTS,
    "tags.{prompt} IS NOT NULL": ALL - PROMPTS,  # ignored: the filter does not ask for prompts
    "tags.{prompt} != 'true' AND tags.k LIKE 'a%'": {"n1", "n4"},
    "tags.k = 'axb' AND tags.{prompt} = 'true'": PROMPTS,
}


def registry_answer(text: str, expected: set[str]) -> set[str]:
    """What a registered-model or model-version search answers for a case of ``CASES``."""
    return _REGISTRY.get(text, expected - PROMPTS)


STORED_PROMPT = "`mlcli.prompt.is_prompt`"  # the key in mlcli's own filters
SENT_PROMPT = "`mlflow.prompt.is_prompt`"  # the key an MLflow client sends


def tags_of(name: str, prompt_key: str) -> dict[str, str]:
    """The tags entity ``name`` carries, the prompt marker under ``prompt_key``."""
    tags = {"k": K_VALUES[name]} if name in K_VALUES else {}
    return tags | ({prompt_key: "true"} if name in PROMPTS else {})
