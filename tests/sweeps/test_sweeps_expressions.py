"""Reading ``-P`` values: lists, distributions, quoted text, and plain values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcli.errors import InvalidInputError
from mlcli.sweeps.domains import Categorical, FloatRange, IntRange
from mlcli.sweeps.expressions import parse_value
from mlcli.sweeps.quoting import quote_literal, unquote
from mlcli.sweeps.spec import parse_sweep


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0.1,0.01,0.001]", Categorical(("0.1", "0.01", "0.001"))),
        ("[ 3 , 5 ]", Categorical(("3", "5"))),
        ("[[64,32],[128]]", Categorical(("[64,32]", "[128]"))),
        ('["a,b", c]', Categorical(("a,b", "c"))),
        ("['x]', \"y)\"]", Categorical(("x]", "y)"))),
        ("[f(1,2), g]", Categorical(("f(1,2)", "g"))),
        ("choice(a,b,c)", Categorical(("a", "b", "c"), listed=False)),
        ("uniform(0,1)", FloatRange(0.0, 1.0)),
        ("loguniform(1e-4,1e-1)", FloatRange(1e-4, 0.1, log=True)),
        ("randint(3,7)", IntRange(3, 7)),
        ("randint(-2,-2)", IntRange(-2, -2)),
        ("0.1", "0.1"),
        ("", ""),
        ('"[64,32]"', "[64,32]"),
        ("'a,b'", "a,b"),
        ('"say \\"hi\\""', 'say "hi"'),
        ('"C:\\path"', "C:\\path"),
        ("hello (world)", "hello (world)"),  # a name and '(' only when they touch
        ('"unclosed', '"unclosed'),  # not one quoted string: taken as it is
        ("a[1,2]", "a[1,2]"),
    ],
)
def test_values(text: str, expected: object) -> None:
    assert parse_value("p", text) == expected


@pytest.mark.parametrize(
    "text",
    ["[1,2", "[1,,2]", "[]", "[1,1]", "[1]]", "[1)", "[1] 2", "['a' b]", "foo(1)", "choice()"],
)
def test_malformed_values_name_the_parameter(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_value("depth", text)
    assert caught.value.message.startswith(f"-P depth={text}: ")


@given(st.text())
def test_a_quoted_value_reads_back_as_itself(value: str) -> None:
    assert unquote(quote_literal(value)) == value
    assert parse_value("p", quote_literal(value)) == value


@given(st.lists(st.text(), min_size=1, max_size=5, unique=True))
def test_quoted_list_items_read_back_as_themselves(values: list[str]) -> None:
    text = "[" + ", ".join(quote_literal(v) for v in values) + "]"
    assert parse_value("p", text) == Categorical(tuple(values))


@given(st.lists(st.text(), min_size=1, max_size=5, unique=True), st.booleans())
def test_a_list_is_written_so_that_it_reads_back(values: list[str], listed: bool) -> None:
    domain = Categorical(tuple(values), listed=listed)
    assert parse_value("p", domain.expression) == domain


def test_a_spec_keeps_the_order_and_the_text_given() -> None:
    spec = parse_sweep({"lr": "loguniform(1e-4,1e-1)", "note": '"[1]"', "depth": "[3,5]"})
    assert list(spec.swept) == ["lr", "depth"]
    assert spec.fixed == {"note": "[1]"}
    assert spec.default_sampler == "random"
    assert spec.trial({"lr": "0.01", "depth": "3"}) == {"lr": "0.01", "note": "[1]", "depth": "3"}
    assert spec.to_json() == '{"lr":"loguniform(1e-4,1e-1)","note":"\\"[1]\\"","depth":"[3,5]"}'
    assert parse_sweep({"depth": "[3,5]"}).default_sampler == "grid"
    assert parse_sweep({"depth": "choice(3,5)"}).default_sampler == "random"
    assert not parse_sweep({"lr": "0.1"}).is_sweep
