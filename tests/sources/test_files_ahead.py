"""`files_ahead`: record files read ahead of their consumer, many at once, in order."""

from __future__ import annotations

import json

from codemill.sources import RecordReader, Skips


def test_a_file_read_through_in_its_first_batch_starts_no_thread_for_the_rest(tmp_path, monkeypatch):
    # A file of unknown size is read ahead a batch; the rest of a larger one is read on in a
    # thread as it is consumed, while a file whose first batch was its last needs none
    # (~80 us a thread, a small object at a time). The lines are all there, in order.
    import codemill.sources.files_ahead as ahead

    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"content": f"x{i}"}) + "\n" for i in range(3)))
    large = tmp_path / "large.jsonl"
    large.write_text("".join(json.dumps({"content": "y" * 100 + str(i)}) + "\n" for i in range(50)))
    started: list[int] = []
    real = ahead.read_ahead
    monkeypatch.setattr(ahead, "read_ahead", lambda it, *a: started.append(1) or real(it, *a))
    readers = [(RecordReader(p, Skips()), p.name) for p in (small, large, small)]
    files = ahead.files_ahead(iter(readers), 1000, 100)
    got = [(name, [line for batch in lines for _, _, line in batch]) for (_, name), lines in files]
    assert [name for name, _ in got] == ["small.jsonl", "large.jsonl", "small.jsonl"]
    assert got[0][1] == got[2][1] == small.read_bytes().splitlines(keepends=True)
    assert got[1][1] == large.read_bytes().splitlines(keepends=True)
    assert started == [1]  # the large file's rest only
