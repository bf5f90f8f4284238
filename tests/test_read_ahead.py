"""`each_at_once`: work on many items in threads, their results in order, as many at once as their
costs and a count allow."""

from __future__ import annotations

import threading

import pytest
from codemill._read_ahead import each_at_once


class Running:
    """Counts the items being worked on, and the most at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.started: list[int] = []

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.now -= 1


def test_items_run_together_up_to_their_budget_and_come_back_in_order() -> None:
    running = Running()
    together = threading.Barrier(3, timeout=30)  # broken unless three run at once

    def work(i: int) -> int:
        with running:
            if i < 3:
                together.wait()
            return i * 10

    assert each_at_once(work, list(range(12)), [5] * 12, budget=15, most=8, name="t") == [i * 10 for i in range(12)]
    assert running.most == 3  # 15 / 5: the budget, not the count, held them back


def test_the_count_bounds_cheap_items_and_a_costly_item_runs_alone() -> None:
    running = Running()
    seen: list[tuple[int, int]] = []  # (item, items running with it, itself included)

    def work(i: int) -> int:
        with running:
            with running.lock:
                seen.append((i, running.now))
            return i

    costs = [1, 1, 1, 1, 100, 1, 1]
    assert each_at_once(work, list(range(7)), costs, budget=10, most=2, name="t") == list(range(7))
    assert running.most <= 2
    assert dict(seen)[4] == 1  # over the budget: alone


def test_the_first_error_is_raised_and_later_items_are_not_begun() -> None:
    begun: list[int] = []

    def work(i: int) -> int:
        begun.append(i)
        if i == 2:
            raise ValueError(f"item {i}")
        return i

    with pytest.raises(ValueError, match="item 2"):
        each_at_once(work, list(range(10)), [1] * 10, budget=1, most=1, name="t")
    assert begun == [0, 1, 2]
    assert each_at_once(work, [], [], budget=1, most=4, name="t") == []
