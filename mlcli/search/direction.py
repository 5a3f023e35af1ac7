"""Whether a lower or a higher value of a metric is better, guessed from its name."""

from __future__ import annotations

import re

_LOWER_IS_BETTER = re.compile(r"loss|error|err\b|rmse|mae|mse|mape|perplexity|latency")


def lower_is_better(metric_key: str) -> bool:
    """True for names such as ``val_loss``, ``rmse`` or ``error_rate``; False otherwise
    (``accuracy``, ``f1``, ``auc``...). Commands let users override the guess."""
    return bool(_LOWER_IS_BETTER.search(metric_key.lower()))
