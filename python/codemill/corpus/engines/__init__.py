"""Where corpus tasks run: `local` (this process or a process pool) and `ray` (a Ray cluster).

Both run the same `task.run_task` on the same deterministic tasks, so they write the same shards.
"""
