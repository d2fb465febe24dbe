"""Compare a model's predictions ("actual") with recorded predictions ("expected").

Both sides are typed JSON values written by the runner: dicts with a "kind" of
dataframe, series, ndarray, list, dict or scalar. Ints, bools, strings and None compare
exactly (True != 1); floats compare like numpy.isclose with the expected value as the
reference, NaN equals NaN and an infinity only equals itself. Predictions come from
untrusted models, so odd input never raises: it becomes a Diff of kind "kind".

results.py holds the result types, structures.py the comparison of typed values and
values.py the comparison of their elements.
"""

from __future__ import annotations

from envforge.compare.results import DEFAULT_ATOL, DEFAULT_RTOL, DIFF_KINDS, Comparison, Diff, ExampleComparison
from envforge.compare.structures import compare, compare_values

__all__ = ["DEFAULT_RTOL", "DEFAULT_ATOL", "DIFF_KINDS", "Diff", "ExampleComparison", "Comparison",
           "compare_values", "compare"]
