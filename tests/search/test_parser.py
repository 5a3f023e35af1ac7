"""The parser: every operator, quoting form, prefix alias and precedence rule, and
the messages for malformed filters."""

from __future__ import annotations

import pytest

from mlcli.errors import InvalidInputError
from mlcli.search import (
    And,
    Compare,
    Field,
    FilterSyntaxError,
    Not,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)

ACC = Field("metric", "acc")
LR = Field("param", "lr")
ENV = Field("tag", "env")


def cmp(field: Field, op: str, value: object = None) -> Compare:
    return Compare(field, op, value)  # type: ignore[arg-type]


def only(text: str) -> Compare:
    node = parse_filter(text)
    assert isinstance(node, Compare), node
    return node


# -- empty filters -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


# -- operators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("metrics.acc = 1", "=", 1.0),
        ("metrics.acc == 1", "=", 1.0),
        ("metrics.acc != 1", "!=", 1.0),
        ("metrics.acc <> 1", "!=", 1.0),
        ("metrics.acc > 1", ">", 1.0),
        ("metrics.acc >= 1", ">=", 1.0),
        ("metrics.acc < 1", "<", 1.0),
        ("metrics.acc <= 1", "<=", 1.0),
        ("metrics.acc>=1", ">=", 1.0),
        ("metrics.acc IN (1, 2.5)", "IN", (1.0, 2.5)),
        ("metrics.acc NOT IN (1)", "NOT IN", (1.0,)),
        ("metrics.acc IS NULL", "IS NULL", None),
        ("metrics.acc IS NOT NULL", "IS NOT NULL", None),
    ],
)
def test_numeric_operators(text: str, op: str, value: object) -> None:
    assert only(text) == cmp(ACC, op, value)


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("params.lr = 'a'", "=", "a"),
        ("params.lr != 'a'", "!=", "a"),
        ("params.lr < 'a'", "<", "a"),
        ("params.lr LIKE 'a%'", "LIKE", "a%"),
        ("params.lr ILIKE 'a%'", "ILIKE", "a%"),
        ("params.lr NOT LIKE 'a_'", "NOT LIKE", "a_"),
        ("params.lr NOT ILIKE 'a_'", "NOT ILIKE", "a_"),
        ("params.lr IN ('a', \"b\")", "IN", ("a", "b")),
        ("params.lr NOT IN ('a')", "NOT IN", ("a",)),
        ("params.lr IN ('a', 1, -2e3)", "IN", ("a", 1.0, -2000.0)),
        ("params.lr > 0.01", ">", 0.01),
        ("params.lr = 1", "=", 1.0),
        ("params.lr IS NULL", "IS NULL", None),
        ("params.lr IS NOT NULL", "IS NOT NULL", None),
    ],
)
def test_text_operators(text: str, op: str, value: object) -> None:
    assert only(text) == cmp(LR, op, value)


@pytest.mark.parametrize(
    "text",
    [
        "params.lr like 'a'",
        "params.lr Like 'a'",
        "params.lr not like 'a' or params.lr ilike 'b' and not params.lr in ('c')",
        "params.lr is not null AND params.lr Is Null",
    ],
)
def test_keywords_ignore_case(text: str) -> None:
    upper = parse_filter(
        text.upper()
        .replace("PARAMS.LR", "params.lr")
        .replace("'A'", "'a'")
        .replace("'B'", "'b'")
        .replace("'C'", "'c'")
    )
    assert parse_filter(text) == upper


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"a\"b"', 'a"b'),
        (r"'back\\slash'", "back\\slash"),
        (r"'C:\temp'", "C:\\temp"),
        (r"'100\%'", "100\\%"),
        ("'with \"double\" inside'", 'with "double" inside'),
        ("''", ""),
        ("'ünïcödé ✓'", "ünïcödé ✓"),
        ("'a AND b'", "a AND b"),
    ],
)
def test_string_literals(literal: str, value: str) -> None:
    assert only(f"params.lr = {literal}").value == value


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1.0),
        ("-1", -1.0),
        ("+1", 1.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-.5", -0.5),
        ("1e-3", 0.001),
        ("1E3", 1000.0),
        ("-2.5e+2", -250.0),
        ("1e999", float("inf")),
        ("123456789012", 123456789012.0),
    ],
)
def test_number_literals(literal: str, value: float) -> None:
    assert only(f"metrics.acc > {literal}").value == value


# -- identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("metrics", "metric"),
        ("metric", "metric"),
        ("params", "param"),
        ("param", "param"),
        ("parameters", "param"),
        ("parameter", "param"),
        ("tags", "tag"),
        ("tag", "tag"),
        ("Metrics", "metric"),
        ("TAGS", "tag"),
    ],
)
def test_prefix_aliases(prefix: str, kind: str) -> None:
    assert only(f"{prefix}.k IS NULL").field == Field(kind, "k")  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["attributes", "attribute", "attr", "run", "ATTRIBUTES"])
def test_attribute_prefix_aliases(prefix: str) -> None:
    assert only(f"{prefix}.status = 'FAILED'").field == Field("attribute", "status")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.acc", "acc"),
        ("metrics.val.loss", "val.loss"),
        ("metrics.val_loss-2", "val_loss-2"),
        ("metrics.opt/lr", "opt/lr"),
        ("metrics.ns:key", "ns:key"),
        ("metrics.1st", "1st"),
        ("metrics.точность", "точность"),
        ("metrics.`f1-score`", "f1-score"),
        ('metrics."learning rate"', "learning rate"),
        ("metrics.'k'", "k"),
        ("metrics.`a.b c`", "a.b c"),
        ("metrics.`with``tick`", "with`tick"),
        (r'metrics."with\"quote"', 'with"quote'),
        ("metrics.`AND`", "AND"),
        ("metrics.AND", "AND"),
        ('metrics."2019-04-02 error rate"', "2019-04-02 error rate"),
    ],
)
def test_keys(text: str, key: str) -> None:
    assert only(f"{text} > 0").field == Field("metric", key)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("run_id", "run_id"),
        ("run_name", "run_name"),
        ("status", "status"),
        ("STATUS", "status"),
        ("user", "user_id"),
        ("user_id", "user_id"),
        ("experiment_id", "experiment_id"),
        ('"run name"', "run_name"),
        ('"Run name"', "run_name"),
        ('"Run Name"', "run_name"),
        ("`Run Name`", "run_name"),
        ("'run_name'", "run_name"),
        ("attributes.run_name", "run_name"),
        ('attributes."Run Name"', "run_name"),
        ("run.user", "user_id"),
    ],
)
def test_text_attributes(text: str, name: str) -> None:
    assert only(f"{text} LIKE 'x'").field == Field("attribute", name)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("start_time", "start_time"),
        ("end_time", "end_time"),
        ("created", "start_time"),
        ("Created", "start_time"),
        ("attributes.created", "start_time"),
        ("attr.end_time", "end_time"),
    ],
)
def test_numeric_attributes(text: str, name: str) -> None:
    assert only(f"{text} > 5").field == Field("attribute", name)


# -- boolean structure ---------------------------------------------------------------------

A = "metrics.a > 1"
B = "metrics.b > 2"
C = "metrics.c > 3"
NA, NB, NC = (cmp(Field("metric", k), ">", v) for k, v in (("a", 1.0), ("b", 2.0), ("c", 3.0)))


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (f"{A} AND {B}", And((NA, NB))),
        (f"{A} and {B} AND {C}", And((NA, NB, NC))),
        (f"{A} OR {B} OR {C}", Or((NA, NB, NC))),
        (f"{A} OR {B} AND {C}", Or((NA, And((NB, NC))))),
        (f"{A} AND {B} OR {C}", Or((And((NA, NB)), NC))),
        (f"({A} OR {B}) AND {C}", And((Or((NA, NB)), NC))),
        (f"{A} AND ({B} OR {C})", And((NA, Or((NB, NC))))),
        (f"NOT {A}", Not(NA)),
        (f"NOT {A} AND {B}", And((Not(NA), NB))),
        (f"NOT {A} OR {B}", Or((Not(NA), NB))),
        (f"NOT ({A} OR {B})", Not(Or((NA, NB)))),
        (f"NOT NOT {A}", Not(Not(NA))),
        (f"{A} AND NOT {B}", And((NA, Not(NB)))),
        (f"(({A}))", NA),
        (f"({A} AND {B}) AND {C}", And((NA, NB, NC))),
        (f"{A} OR ({B} OR {C})", Or((NA, NB, NC))),
        (f"not ({A}) and not ({B} or not {C})", And((Not(NA), Not(Or((NB, Not(NC))))))),
    ],
)
def test_precedence_and_parentheses(text: str, tree: object) -> None:
    assert parse_filter(text) == tree


def test_mlflow_style_filters() -> None:
    node = parse_filter(
        'params.model = "LogisticRegression" and params.lambda = "0.001" '
        "and metrics.error <= 0.05 and attributes.status = 'FINISHED' "
        "and tags.\"mlflow.runName\" = 'x' and metrics.'prediction accuracy' >= 0.945"
    )
    assert isinstance(node, And) and len(node.items) == 6


@pytest.mark.parametrize(
    "text",
    [
        "metrics.acc > 0.9",
        "params.`learning rate` IN ('a', 2.0, 'c''s')",
        "NOT (tags.env = 'dev' OR tags.env IS NULL) AND status IN ('FAILED', 'KILLED')",
        "run_name LIKE 'a\\\\%' OR metrics.`f1-score` >= -1e999",
        "metrics.a > 1 OR metrics.b > 2 AND NOT (metrics.c > 3 OR metrics.d > 4)",
    ],
)
def test_printing_round_trips(text: str) -> None:
    node = parse_filter(text)
    assert parse_filter(str(node)) == node


def test_positions_point_at_the_key() -> None:
    node = parse_filter("metrics.a > 1 AND  params.b = 'x'")
    assert isinstance(node, And)
    assert [item.position for item in node.items] == [0, 19]  # type: ignore[union-attr]


# -- order by ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "keys"),
    [
        ([], []),
        (["metrics.acc"], [OrderKey(ACC, False)]),
        (["metrics.acc DESC"], [OrderKey(ACC, True)]),
        (["metrics.acc desc"], [OrderKey(ACC, True)]),
        (["metrics.acc ASC"], [OrderKey(ACC, False)]),
        (["metrics.`acc` DESC", "params.lr"], [OrderKey(ACC, True), OrderKey(LR, False)]),
        (["metrics.acc DESC, params.lr"], [OrderKey(ACC, True), OrderKey(LR, False)]),
        (
            ["tags.env", "start_time desc"],
            [OrderKey(ENV, False), OrderKey(Field("attribute", "start_time"), True)],
        ),
        (["attributes.run_name"], [OrderKey(Field("attribute", "run_name"), False)]),
        (["Created DESC"], [OrderKey(Field("attribute", "start_time"), True)]),
        (['"Run Name"'], [OrderKey(Field("attribute", "run_name"), False)]),
    ],
)
def test_order_by(items: list[str], keys: list[OrderKey]) -> None:
    assert parse_order_by(items) == keys


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "metrics.acc DESC x",
            "invalid order_by 'metrics.acc DESC x' at column 18: expected ASC, DESC or end of "
            "input, got 'x'",
        ),
        (
            "",
            "invalid order_by '' at column 1: expected a key to order by, such as "
            "metrics.acc or start_time, got end of input",
        ),
        (
            "metrics.acc DESCENDING",
            "at column 13: expected ASC, DESC or end of input, got 'DESCENDING'",
        ),
        ("metrics.acc ASC DESC", "at column 17: expected ASC, DESC or end of input, got 'DESC'"),
        ("metrics.acc,", "at column 13: expected a key to order by"),
        ("DESC", "at column 1: expected a key to order by"),
        ("lifecycle_stage", "at column 1: lifecycle_stage cannot be searched on: use --deleted"),
        ("metricz.acc", "at column 1: unknown key prefix 'metricz.'"),
        ("metrics.acc > 1", "at column 13: expected ASC, DESC or end of input, got '>'"),
    ],
)
def test_order_by_errors(item: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_order_by(["start_time", item])
    assert message in caught.value.message
    assert caught.value.text == item


# -- errors --------------------------------------------------------------------------------

ERRORS = [
    # (filter, 1-based column, the rest of the message after "column N: ")
    ("metrics.acc >", 14, "expected a value after '>', got end of input"),
    ("metrics.acc > 0.9 AND", 22, "expected a condition after AND, got end of input"),
    ("metrics.acc > 0.9 OR", 21, "expected a condition after OR, got end of input"),
    ("metrics.acc > 1 OR OR metrics.b > 1", 20, "expected a condition after OR, got 'OR'"),
    ("metrics.a > 1 AND AND metrics.b > 1", 19, "expected a condition after AND, got 'AND'"),
    (
        "AND metrics.a > 1",
        1,
        "expected a condition (a key such as metrics.acc, params.lr or "
        "status, NOT, or '('), got 'AND'",
    ),
    ("NOT", 4, "expected a condition after NOT, got end of input"),
    ("NOT NOT", 8, "expected a condition after NOT, got end of input"),
    ("()", 2, "expected a condition after '(', got ')'"),
    ("metrics.a = 1 OR (", 19, "expected a condition after '(', got end of input"),
    (
        "metricz.acc > 1",
        1,
        "unknown key prefix 'metricz.': expected metrics., params., tags. "
        "or attributes. (did you mean 'metrics.'?)",
    ),
    (
        "paramz.lr = '1'",
        1,
        "unknown key prefix 'paramz.': expected metrics., params., tags. "
        "or attributes. (did you mean 'params.'?)",
    ),
    (
        "foo = 'x'",
        1,
        "unknown attribute 'foo': expected one of run_id, run_name, status, "
        "user, start_time, end_time, experiment_id, or a key such as metrics.acc, params.lr "
        "or tags.env",
    ),
    ("attributes.foo = 'x'", 12, "unknown attribute 'foo'"),
    ("statuz = 'FAILED'", 1, "unknown attribute 'statuz'"),
    ("datasets.name = 'x'", 1, "datasets cannot be filtered: mlcli does not track datasets"),
    (
        "lifecycle_stage = 'active'",
        1,
        "lifecycle_stage cannot be searched on: use --deleted "
        "or --all (run_view_type in Python) to include deleted runs",
    ),
    ("attributes.lifecycle_stage = 'deleted'", 12, "lifecycle_stage cannot be searched on"),
    ("artifact_uri = 'x'", 1, "artifact_uri cannot be searched on in mlcli"),
    ("metrics.x > 'abc'", 13, "metrics.x compares to numbers, got 'abc'"),
    ("metrics.a IN (1, 'x')", 18, "metrics.a compares to numbers, got 'x'"),
    ("start_time > 'yesterday'", 14, "start_time compares to numbers, got 'yesterday'"),
    ("metrics.acc LIKE 'a%'", 13, "LIKE does not apply to metrics.acc: it is a number"),
    ("end_time NOT ILIKE '1%'", 10, "NOT ILIKE does not apply to end_time: it is a number"),
    ("params.x LIKE 1", 15, "expected a quoted pattern after LIKE, got number 1"),
    ("params.x IN ()", 14, "the list after IN is empty: expected at least one value"),
    ("params.x NOT IN ()", 18, "the list after NOT IN is empty: expected at least one value"),
    ("params.x IN 'a'", 13, "expected '(' and a list of values after IN, got string 'a'"),
    ("params.x IN ('a' 'b')", 18, "expected ',' or ')' to close the list after IN, got string 'b'"),
    ("params.x IN ('a',)", 18, "expected a value after ',', got ')'"),
    ("params.x IN ('a'", 17, "expected ',' or ')' to close the list after IN, got end of input"),
    ("params.x = 'abc", 12, "expected a closing ' for the text that starts here, got end of input"),
    ('params.x = "abc', 12, 'expected a closing " for the text that starts here, got end of input'),
    ("metrics.`f1 > 1", 9, "expected a closing ` for the text that starts here, got end of input"),
    ("'", 1, "expected a closing ' for the text that starts here, got end of input"),
    ("metrics.acc > 1 metrics.b < 2", 17, "expected AND, OR or end of input, got 'metrics.b'"),
    ("tags.k = 'a' 'b'", 14, "expected AND, OR or end of input, got string 'b'"),
    (
        "(metrics.acc > 1",
        17,
        "expected AND, OR or ')' to close the '(' at column 1, got end of input",
    ),
    (
        "(((metrics.a > 1))",
        19,
        "expected AND, OR or ')' to close the '(' at column 1, got end of input",
    ),
    ("metrics.acc > 1)", 16, "unbalanced ')': there is no '(' for it to close"),
    ("metrics.a > 1 AND (metrics.b > 2 OR)", 36, "expected a condition after OR, got ')'"),
    ("metrics. > 1", 10, "expected a key after 'metrics.', got '>'"),
    (
        "metrics.acc",
        12,
        "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN or IS) "
        "after metrics.acc, got end of input",
    ),
    ("params.x NOT = 'a'", 14, "expected LIKE, ILIKE or IN after NOT, got '='"),
    ("params.x IS 'a'", 13, "expected NULL or NOT NULL after IS, got string 'a'"),
    ("params.x IS NOT 'a'", 17, "expected NULL after IS NOT, got string 'a'"),
    (
        "status = FINISHED",
        10,
        "expected a value after '=', got 'FINISHED' (quote text values: 'FINISHED')",
    ),
    (
        "params.x = `y`",
        12,
        "expected a value after '=', got `y` (backticks quote keys; "
        "quote text values with ' or \")",
    ),
    (
        "status = 'finished'",
        10,
        "unknown status 'finished': expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
    ),
    ("status IN ('FINISHED', 'DONE')", 24, "unknown status 'DONE'"),
    ("params.x = 1abc", 12, "invalid number '1abc'"),
    ("params.x = 1.2.3", 12, "invalid number '1.2.3'"),
    ("params.x @ 1", 10, "expected a key, an operator, a value or a parenthesis, got '@'"),
    ("params.x ! 1", 10, "expected '!=', got '!'"),
    ("params.x > -", 12, "expected a key, an operator, a value or a parenthesis, got '-'"),
    ("metrics.acc >= ,", 16, "expected a value after '>=', got ','"),
    ("run_id <=> 'x'", 10, "expected a value after '<=', got '>'"),
    ("user = ", 8, "expected a value after '=', got end of input"),
    ("params.x LIKE", 14, "expected a value after LIKE, got end of input"),
    ("params.x NOT LIKE", 18, "expected a value after NOT LIKE, got end of input"),
    ("\tmetrics.a >", 13, "expected a value after '>', got end of input"),
    (
        "metrics.a > 1 AND " + "(" * 101 + "metrics.a > 1" + ")" * 101,
        119,
        "the filter is nested too deeply",
    ),
]


@pytest.mark.parametrize(("text", "column", "detail"), ERRORS)
def test_malformed_filters(text: str, column: int, detail: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    prefix = f"invalid filter at column {column}: "
    assert error.message.startswith(prefix), error.message
    assert detail in error.message[len(prefix) :]
    assert error.position == column - 1
    assert error.text == text
    assert error.expected


def test_there_are_many_malformed_cases() -> None:
    assert len(ERRORS) >= 30


def test_error_is_invalid_input_with_exit_code_2() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filter("metrics.acc >")
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, FilterSyntaxError)
    assert caught.value.expected == "a value after '>'"
    assert str(caught.value) == caught.value.message


def test_display_points_at_the_token() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.acc > 0.9 AND params.lr = ")
    assert caught.value.display() == (
        "invalid filter at column 35: expected a value after '=', got end of input\n"
        "metrics.acc > 0.9 AND params.lr = \n"
        "                                  ^"
    )


def test_display_in_the_middle_and_with_newlines() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.acc > 1\nAND metricz.b < 2")
    lines = caught.value.display().splitlines()
    assert lines[1] == "metrics.acc > 1 AND metricz.b < 2"
    assert lines[2] == " " * 20 + "^"


def test_display_counts_wide_characters_twice() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("tags.`名前` = 'x' AND")
    assert caught.value.display().splitlines()[2] == " " * 21 + "^"
