"""Numbers from Python callers (issue 15, finding 11): a value a double or an int64
cannot hold is refused with one clear error, on the client and the fluent API alike,
and nothing is written."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

import mlcli
from mlcli.errors import InvalidInputError
from mlcli.tracking import TrackingClient

OUT_OF_RANGE = "out of the range of a double"


def _metrics_log(store_root: Path, run_id: str) -> bytes:
    path = store_root / "runs" / run_id / "metrics.jsonl"
    return path.read_bytes() if path.exists() else b""


@pytest.mark.parametrize(
    "value", [10**400, -(10**400), Decimal("1e309"), Fraction(10**400, 3)], ids=repr
)
def test_a_finite_value_beyond_a_double_is_refused(store_root: Path, value: object) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run().run_id
    with pytest.raises(InvalidInputError, match=OUT_OF_RANGE):
        client.log_metric(run_id, "m", value)
    with pytest.raises(InvalidInputError, match=OUT_OF_RANGE):
        client.log_batch(run_id, metrics=[("ok", 1.0), ("m", value)])
    assert _metrics_log(store_root, run_id) == b""


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), Decimal("-Infinity")], ids=repr)
def test_an_infinite_value_is_kept(store_root: Path, value: object) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run().run_id
    client.log_metric(run_id, "m", value)
    assert client.get_run(run_id).data.metrics["m"] == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "timestamp", "message"),
    [
        (2**63, None, "invalid step 9223372036854775808: out of the 64-bit range"),
        (-(2**63) - 1, None, "invalid step -9223372036854775809: out of the 64-bit range"),
        (10**400, None, "invalid step 1000000000000000000000000000000000000000..."),
        (None, -1, "invalid timestamp -1: must be a non-negative int64"),
        (None, 2**64, "invalid timestamp 18446744073709551616: must be a non-negative int64"),
        (None, "soon", "invalid timestamp 'soon'"),
    ],
)
def test_the_fluent_api_refuses_steps_and_timestamps_out_of_range(
    store_root: Path, step: object, timestamp: object, message: str
) -> None:
    with mlcli.start_run() as run:
        with pytest.raises(InvalidInputError) as caught:
            mlcli.log_metric("m", 1.0, step=step, timestamp=timestamp)  # type: ignore[arg-type]
        assert str(caught.value).startswith(message)
    assert mlcli.get_metric_history(run.run_id, "m") == []


@pytest.mark.parametrize("step", [-(2**63), 2**63 - 1], ids=["int64 min", "int64 max"])
def test_steps_at_the_ends_of_int64_are_kept(store_root: Path, step: int) -> None:
    client = TrackingClient(store_root)
    run_id = client.create_run().run_id
    client.log_metric(run_id, "m", 1.0, step=step)
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [step]


@pytest.mark.parametrize(("limit", "offset"), [(10**30, 0), (None, 2**63), (-1, 0)])
def test_search_refuses_a_limit_or_offset_beyond_int64(
    store_root: Path, limit: int | None, offset: int
) -> None:
    with pytest.raises(InvalidInputError, match="must be 0 to 2\\*\\*63-1"):
        TrackingClient(store_root).search_runs(max_results=limit, offset=offset)
