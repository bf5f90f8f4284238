"""pass@k against exact binomials, and the other metrics."""

from fractions import Fraction
from math import comb

import pytest
from codemill.evaluate.metrics import (
    efficiency,
    exact_match,
    mean_pass_at_k,
    normalize_code,
    pass_at_k,
)


def exact(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (10, 7, 5), (20, 0, 10), (200, 13, 100)],
)
def test_pass_at_k_matches_math_comb(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-12, abs=1e-15)


def test_pass_at_k_where_the_naive_formula_overflows():
    n, c, k = 2000, 1000, 500
    with pytest.raises(OverflowError):  # the naive formula in floats: C(n, k) > 1e308
        1 - float(comb(n - c, k)) / float(comb(n, k))
    got = pass_at_k(n, c, k)
    assert got == pytest.approx(float(exact(n, c, k)), rel=1e-12)
    # a case whose answer is far from 1, so the comparison is not trivially 1.0 == 1.0
    n, c, k = 3000, 1, 1000
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), rel=1e-12)
    assert pass_at_k(n, c, k) == pytest.approx(1000 / 3000, rel=1e-12)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 10)


def test_mean_pass_at_k_keeps_only_k_every_task_reaches():
    counts = [(10, 2), (5, 5), (5, 0)]
    got = mean_pass_at_k(counts, [1, 5, 10])
    assert set(got) == {"pass@1", "pass@5"}
    want = (float(exact(10, 2, 5)) + 1.0 + 0.0) / 3
    assert got["pass@5"] == pytest.approx(want, rel=1e-12)
    assert got["pass@1"] == pytest.approx((0.2 + 1.0 + 0.0) / 3, rel=1e-12)


def test_exact_match_ignores_comments_blank_lines_and_spacing():
    reference = "    return sorted(set(l))\n"
    assert exact_match("    # unique, sorted\n\n    return  sorted( set(l) )  \n", reference)
    assert not exact_match("    return sorted(l)\n", reference)
    # indentation is structure, not layout
    assert normalize_code("if a:\n    b\nc\n") != normalize_code("if a:\n    b\n    c\n")


def test_exact_match_falls_back_on_untokenizable_code():
    assert exact_match('x = """unterminated', 'x  =   """unterminated')


def test_efficiency_is_a_geometric_mean_of_speed_ratios():
    assert efficiency([]) is None
    assert efficiency([(1.0, 2.0), (2.0, 1.0)]) == pytest.approx(1.0)
    assert efficiency([(1.0, 0.5), (1.0, 0.5)]) == pytest.approx(2.0)
