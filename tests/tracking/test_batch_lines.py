"""JSON-lines batches, parsed by the core (``mlcli log batch`` only reads the text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError
from mlcli.known_keys import reject_unknown_keys
from mlcli.tracking import TrackingClient
from mlcli.tracking.batch_lines import parse_batch


def test_a_batch_from_the_python_api_logs_what_the_cli_would(store_root: Path) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run().run_id
    batch = parse_batch(
        '{"metric": "loss", "value": 0.5, "step": 2}\n'
        "\n"
        '{"param": "lr", "value": 0.1}\n'
        '{"tag": "stage", "value": "tuning"}\n'
    )
    client.log_batch(run_id, metrics=batch.metrics, params=batch.params, tags=batch.tags)
    run = client.get_run(run_id)
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["stage"] == "tuning"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"metric": "a", "value": 1}\n{"metric": "a", "value": 1e309}', "line 2: not valid JSON"),
        (
            '{"tag": "t", "value": "x", "colour": 1, "age": 2}',
            "line 1: unknown field(s): age, colour",
        ),
        ('{"param": "p", "value": [1]}', "line 1: the value of param 'p' must be a string or"),
    ],
)
def test_a_bad_line_is_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_batch(text)
    assert raised.value.message.startswith(message)


def test_unknown_keys_are_named_sorted_with_where_and_hint() -> None:
    reject_unknown_keys({"image": "x"}, {"image", "volumes"}, where="MLproject")
    with pytest.raises(InvalidInputError) as raised:
        reject_unknown_keys({"b": 1, "a": 2, "image": 3}, {"image"}, where="f", hint="valid: image")
    assert raised.value.message == "f: unknown key(s) a, b (valid: image)"
