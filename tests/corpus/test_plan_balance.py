"""Task planning depends on the input alone, never on workers: a 40 MB tree is cut into enough
tasks for many workers, a terabyte into 64 MiB tasks, and the plan has no worker argument."""

from __future__ import annotations

import inspect
from pathlib import Path

from codemill.corpus.plan import plan_tasks
from codemill.sources.parts import MAX_TASK_BYTES, MIN_TASK_BYTES, task_size


def test_task_size_grows_with_the_input_within_bounds():
    assert task_size(40_000_000) == MIN_TASK_BYTES  # 40 MB: ~38 tasks of 1 MiB
    assert task_size(1_000_000_000) == 1_000_000_000 // 64  # 1 GB: 64 tasks of ~15.6 MB
    assert task_size(10**12) == MAX_TASK_BYTES  # 1 TB: 64 MiB tasks
    assert "workers" not in inspect.signature(plan_tasks).parameters


def test_a_40_mb_tree_gives_every_worker_many_tasks(tmp_path: Path):
    # Sparse files: planning reads sizes only, so 40 MB of "code" costs no disk.
    for i in range(160):
        with open(tmp_path / f"m{i:03d}.py", "wb") as f:
            f.truncate(250_000)
    tasks = plan_tasks([tmp_path])
    assert len(tasks) >= 32, len(tasks)
    assert sum(len(t.files) for t in tasks) == 160
    sizes = [t.size for t in tasks]
    assert max(sizes) - min(sizes) <= 250_000 or sizes[-1] < max(sizes)  # balanced but the last
    assert plan_tasks([tmp_path]) == tasks  # deterministic
