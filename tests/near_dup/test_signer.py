"""`Signer` signs each distinct text once and gives every text what `sign_texts` gives it."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pytest
from codemill import _core
from codemill.errors import CodemillError
from codemill.near_dup import signing
from codemill.near_dup.config import DedupConfig
from codemill.near_dup.minhash import MinHasher
from codemill.near_dup.signing import SHINGLE_SCANNER, Signer, sign_texts


def _stdlib_texts(n: int) -> list[str]:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:n]
    return [f.read_text(encoding="utf-8") for f in files]


@pytest.mark.parametrize("chunk_bytes", [1, signing.CHUNK_BYTES])  # batches gathered at once, or at the end
@pytest.mark.parametrize("normalize_whitespace", [False, True])
def test_copies_get_the_signature_their_text_gives_and_are_signed_once(monkeypatch, normalize_whitespace, chunk_bytes):
    monkeypatch.setattr(signing, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(signing, "COPY_ROWS", 2)  # the copies' rows filled in several steps
    cfg = DedupConfig(normalize_whitespace=normalize_whitespace)
    a, b, c = _stdlib_texts(3)
    spaced = a.replace("\n", " \n", 5)  # the same as `a` with whitespace normalized, not otherwise
    batches = [[a, b, a, ""], [c, a, "", spaced], [b, spaced, c]]
    signed_now: list[str] = []
    hasher = MinHasher.from_config(cfg)

    def signatures(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        signed_now.extend(texts)
        return hasher.signatures_and_counts(texts, SHINGLE_SCANNER)

    signer = Signer(cfg, signatures)
    for batch in batches:
        signer.add(batch)
    got = signer.signed()
    want = sign_texts(cfg, [t for batch in batches for t in batch])
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert signed_now == [a, b, "", c, spaced]  # each distinct text once, in order
    # The signer starts afresh: the same texts again are signed again.
    signer.add([a])
    assert signed_now[-1] == a and signer.documents == 1


def test_no_texts_and_a_batch_of_copies_only():
    cfg = DedupConfig(num_perm=64)
    calls: list[int] = []

    def signatures(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(texts))
        return MinHasher.from_config(cfg).signatures_and_counts(texts)

    empty = Signer(cfg, signatures).signed()
    assert [x.shape for x in empty] == [(0, 64), (0,), (0, 2)]
    signer = Signer(cfg, signatures)
    signer.add(["x = 1\n"])
    signer.add([])
    signer.add(["x = 1\n", "x = 1\n"])
    sigs, counts, hashes = signer.signed()
    assert calls == [1]  # the batch of copies signed nothing
    assert (sigs == sigs[0]).all() and (counts == counts[0]).all() and (hashes == hashes[0]).all()


def test_first_seen_keeps_each_hash_first_document_across_batches() -> None:
    seen = _core.FirstSeen()
    batch = np.array([[1, 2], [1, 3], [1, 2]], dtype=np.uint64)
    assert seen.first(batch, 0).tolist() == [0, 1, 0]
    assert seen.first(np.array([[9, 9], [1, 3], [9, 9]], dtype=np.uint64), 3).tolist() == [3, 1, 3]
    assert len(seen) == 3
    assert seen.first(np.zeros((0, 2), dtype=np.uint64), 6).tolist() == []
    with pytest.raises(CodemillError, match=r"shape \(n, 2\)"):
        seen.first(np.zeros((2, 3), dtype=np.uint64), 0)
    with pytest.raises(CodemillError, match="C-contiguous"):
        seen.first(np.zeros((4, 2), dtype=np.uint64)[::2], 0)


@pytest.mark.parametrize("claim_order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
@pytest.mark.parametrize("alone", [None, 0, 2])
@pytest.mark.parametrize("normalize_whitespace", [False, True])
def test_tasks_claiming_texts_in_any_order_give_what_one_signer_gives(normalize_whitespace, claim_order, alone):
    # Ray's tasks sign their shares with signers of their own that claim texts from one register
    # (`signing.Claim`): each distinct text is signed once, by whichever task claims it first,
    # and the run's signer, taking the tasks' rows in order, fills every copy (one whose first
    # document in order was left unsigned too takes the row that signed it). A task sent before
    # the register was up (`alone`) claims within itself: its texts may be signed twice.
    cfg = DedupConfig(normalize_whitespace=normalize_whitespace, num_perm=64)
    a, b, c = _stdlib_texts(3)
    spaced = a.replace("\n", " \n", 5)
    tasks = [[a, b, a, ""], [c, a, "", spaced, b], [b, spaced, c, a]]
    register = signing.first_claims()
    signed_now: list[str] = []
    hasher = MinHasher.from_config(cfg)

    def signatures(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        signed_now.extend(texts)
        return hasher.signatures_and_counts(texts, SHINGLE_SCANNER)

    parts: dict[int, signing.Claimed] = {}
    for t in claim_order:
        task = Signer(cfg, signatures, signing.first_claims() if t == alone else register)
        task.add(tasks[t][:2])
        task.add(tasks[t][2:])
        parts[t] = task.claimed()
    if alone is None:
        assert sorted(signed_now) == sorted([a, b, "", c, spaced])  # each distinct text once in the run
    else:
        assert sorted(set(signed_now)) == sorted({a, b, "", c, spaced}) and len(signed_now) > 5
    run = Signer(cfg, signatures)
    for t in range(len(tasks)):
        run.add_claimed(parts[t])
    got = run.signed()
    want = sign_texts(cfg, [t for task in tasks for t in task])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
