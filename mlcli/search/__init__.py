"""The run filter language: MLflow's ``search_runs`` filters and order-by, and more.

    parse_filter(text)            text -> syntax tree (None for an empty filter)
    parse_order_by(items)         ["metrics.acc DESC", ...] -> [OrderKey, ...]
    compile_search(filter, order) both, as parameterised SQL over the index (``r``)
    evaluate(node, run)           the same filter, in Python, over one Run
    order_runs(runs, keys)        the same order, in Python

The language is described for users in ``docs/filter-language.md``.
"""

from mlcli.search.errors import FilterSyntaxError
from mlcli.search.evaluate import evaluate, order_runs
from mlcli.search.nodes import And, Compare, Field, Node, Not, Or, OrderKey
from mlcli.search.parser import parse_filter, parse_order_by
from mlcli.search.sql import CompiledSearch, compile_filter, compile_order, compile_search

__all__ = [
    "And",
    "Compare",
    "CompiledSearch",
    "Field",
    "FilterSyntaxError",
    "Node",
    "Not",
    "Or",
    "OrderKey",
    "compile_filter",
    "compile_order",
    "compile_search",
    "evaluate",
    "order_runs",
    "parse_filter",
    "parse_order_by",
]
