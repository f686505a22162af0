"""Near-duplicate detection for copy-paste reposts and spam (MinHash + LSH, numpy only).

Each text is reduced to its "content" (emoticon codes ``[哈哈]``, URLs, punctuation,
symbols/emoji and whitespace removed, lower-cased), shingled into character
3-grams, and summarised by a 64-value MinHash signature computed for the whole
corpus at once with vectorised integer arithmetic.  Candidate pairs come from
LSH banding (16 bands x 4 rows: pairs with Jaccard around 0.5 and above usually
share a band), and a candidate pair is kept when the signatures agree on at
least ``threshold`` of their values (the MinHash estimate of the Jaccard
similarity of the 3-gram sets).  Groups are the connected components of the
kept pairs, so the work is bucketed, roughly linear in the corpus, never O(n²).

Known limits: components are transitive (A~B and B~C put A, B, C together even
when A and C differ more); inside one LSH bucket only the :data:`WINDOW` nearest
neighbours in sort order are compared, which bounds the work for huge buckets.
Exact duplicates are grouped before banding, so identical spam never makes a
bucket large.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["BANDS", "NUM_PERM", "WINDOW", "content_key", "minhash_signatures", "near_duplicate_groups"]

NUM_PERM = 64
BANDS = 16
WINDOW = 32
_ROWS = NUM_PERM // BANDS
_CHUNK_GRAMS = 2_000_000
_NOISE = re.compile(r"\[[^\[\]\s]{1,8}\]|https?://\S+|[\W_]+", re.UNICODE)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_EMPTY = np.iinfo(np.uint64).max


def content_key(text: object) -> str:
    """What two copies of a spam post share: no emoticon codes, URLs, punctuation, emoji or spaces."""
    if not isinstance(text, str):
        return ""
    return _NOISE.sub("", text).lower()


def _splitmix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def _gram_hashes(keys: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """64-bit hashes of every character 3-gram, and the number of grams per text (0 for empty)."""
    # texts shorter than 3 characters are padded with NULs so that they still make one gram
    padded = [k if len(k) >= 3 or not k else k + "\0" * (3 - len(k)) for k in keys]
    lengths = np.fromiter((len(k) for k in padded), dtype=np.int64, count=len(padded))
    counts = np.where(lengths >= 3, lengths - 2, 0)
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.uint64), counts
    cp = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(len(padded)), counts)
    first_gram = np.cumsum(counts) - counts
    pos = starts[owner] + (np.arange(owner.size) - first_gram[owner])
    with np.errstate(over="ignore"):
        g = (cp[pos] * _M1) ^ (cp[pos + 1] * _M2) ^ (cp[pos + 2] * _M3)
        return _splitmix(g), counts


def minhash_signatures(texts: Sequence[object], *, seed: int = 0x5EED) -> NDArray[np.uint64]:
    """``(len(texts), NUM_PERM)`` MinHash signatures over character 3-grams of :func:`content_key`.

    Rows of texts with no content are all ``2**64 - 1``.
    """
    keys = [content_key(t) for t in texts]
    n = len(keys)
    sig = np.full((n, NUM_PERM), _EMPTY, dtype=np.uint64)
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
    add = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
    # chunk by texts so that the gram arrays stay a few MB
    lo = 0
    while lo < n:
        hi, grams = lo, 0
        while hi < n and (grams < _CHUNK_GRAMS or hi == lo):
            grams += len(keys[hi])
            hi += 1
        g, counts = _gram_hashes(keys[lo:hi])
        nonempty = np.flatnonzero(counts > 0)
        if nonempty.size:
            offsets = (np.cumsum(counts) - counts)[nonempty]
            with np.errstate(over="ignore"):
                for k in range(NUM_PERM):
                    h = g * mult[k] + add[k]
                    sig[lo + nonempty, k] = np.minimum.reduceat(h, offsets)
        lo = hi
    return sig


def _row_keys(block: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """One 64-bit key per row of ``block`` (hash of the row's values)."""
    acc = np.zeros(block.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(block.shape[1]):
            acc = _splitmix(acc * _M1 + block[:, j])
    return acc


def near_duplicate_groups(texts: Sequence[object], threshold: float = 0.7) -> list[int]:
    """Group id per text: the index of the group's first text, or ``-1`` when it has no near-duplicate.

    ``threshold`` is the minimum estimated Jaccard similarity of the texts' character
    3-gram sets (after removing punctuation, emoji, emoticon codes and URLs).
    Copies differing only in punctuation/emoji are identical after cleaning; a
    one-character edit of a 30-character post keeps a similarity of about 0.8.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n = len(texts)
    if n == 0:
        return []
    sig = minhash_signatures(texts)
    empty = sig[:, 0] == _EMPTY
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []

    # exact signature duplicates: link each to the first of its kind, then band only the representatives
    full = _row_keys(sig)
    order = np.argsort(full, kind="stable")
    sorted_full = full[order]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = sorted_full[1:] != sorted_full[:-1]
    run_id = np.cumsum(new_run) - 1
    run_head = order[new_run]
    head_of = run_head[run_id]
    same = ~new_run
    rows.append(order[same])
    cols.append(head_of[same])
    reps = run_head[~empty[run_head]]

    min_agree = int(np.ceil(threshold * NUM_PERM))
    rsig = sig[reps]
    for b in range(BANDS):
        keys = _row_keys(rsig[:, b * _ROWS : (b + 1) * _ROWS])
        o = np.argsort(keys, kind="stable")
        k_sorted = keys[o]
        for d in range(1, min(WINDOW, len(o) - 1) + 1):
            cand = np.flatnonzero(k_sorted[d:] == k_sorted[:-d])
            if cand.size == 0:
                break
            a, c = o[cand], o[cand + d]
            agree = (rsig[a] == rsig[c]).sum(axis=1)
            ok = agree >= min_agree
            rows.append(reps[a[ok]])
            cols.append(reps[c[ok]])

    r = np.concatenate(rows)
    c = np.concatenate(cols)
    keep = ~empty[r] & ~empty[c]  # empty texts are never grouped
    r, c = r[keep], c[keep]
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # canonical id = smallest index in the component; singletons and empty texts → -1
    first = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    size = np.bincount(labels)
    out = np.where((size[labels] > 1) & ~empty, first[labels], -1)
    return [int(x) for x in out]
