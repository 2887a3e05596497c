"""MinHash signatures and their LSH banding, in numpy alone.

A signature is NUM_PERM 32-bit values: each shingle is hashed (the first 4 bytes of its SHA-1, little-endian),
mixed by the MurmurHash3 finalizer, then put through NUM_PERM affine permutations `a·h + b mod 2³²` (`a` odd,
so each is a bijection); a value of the signature is the least of one permutation over every shingle. Two
texts agree on a value with a probability equal to the Jaccard similarity of their shingle sets.

These are the values datasketch 2 (its default "affine32" scheme, seed 1) computes, bit for bit: archives
signed by it keep their stories. datasketch 1 signed otherwise (its "legacy" scheme): an archive signed that
way is signed again once, when it is upgraded (storage.stories.signed_otherwise tells).

`banding` chooses how a signature is cut into bands for a similarity threshold, as datasketch's MinHashLSH
does: the (bands, rows) minimising the weighted areas of false positives below the threshold and false
negatives above it. Its integrals are of polynomials of degree at most NUM_PERM, which Gauss-Legendre
quadrature on NUM_PERM // 2 + 1 nodes computes exactly.
"""

import functools
import hashlib
from collections.abc import Collection

import numpy as np

NUM_PERM = 128
SEED = 1

_random = np.random.RandomState(SEED)  # the legacy generator: its stream is fixed for good
_A = _random.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
_B = _random.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
del _random


def _mixed(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, a bijection that spreads similar inputs apart (wrapping uint32)."""
    hashes = hashes ^ (hashes >> np.uint32(16))
    hashes = hashes * np.uint32(0x85EBCA6B)
    hashes = hashes ^ (hashes >> np.uint32(13))
    hashes = hashes * np.uint32(0xC2B2AE35)
    return hashes ^ (hashes >> np.uint32(16))


_CHUNK = 512  # hashes permuted at once: a 256 KiB block that stays in cache, where a long article's whole
# matrix (thousands of shingles × NUM_PERM) did not: a third of the time for a text of 3,000 words


def signature(items: Collection[bytes]) -> np.ndarray:
    """The MinHash signature (NUM_PERM uint32) of a non-empty set of byte strings."""
    if not items:
        raise ValueError("a signature needs at least one item")
    first = b"".join(hashlib.sha1(item).digest()[:4] for item in items)
    hashes = _mixed(np.frombuffer(first, dtype="<u4").astype(np.uint32))
    least = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    block = np.empty((min(len(hashes), _CHUNK), NUM_PERM), dtype=np.uint32)
    for start in range(0, len(hashes), _CHUNK):
        chunk = hashes[start:start + _CHUNK]
        permuted = block[:len(chunk)]
        np.multiply(chunk[:, None], _A, out=permuted)  # modulo 2³², as uint32 wraps
        np.add(permuted, _B, out=permuted)
        np.minimum(least, permuted.min(axis=0), out=least)
    return least


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(NUM_PERM // 2 + 1)
_PAIRS = np.array([(b, r) for b in range(1, NUM_PERM + 1) for r in range(1, NUM_PERM // b + 1)], dtype=float)


def _area(low: float, high: float, bands: np.ndarray, rows: np.ndarray, *, above: bool) -> np.ndarray:
    """For each banding, the integral over [low, high] of the chance a pair of that similarity is a candidate
    (`above=False`) or is not (`above=True`)."""
    s = (high - low) / 2 * _NODES + (high + low) / 2
    missed = (1 - s[None, :] ** rows[:, None]) ** bands[:, None]
    return (high - low) / 2 * ((missed if above else 1 - missed) @ _WEIGHTS)


@functools.lru_cache(maxsize=16)
def banding(threshold: float, false_positive: float, false_negative: float) -> tuple[int, int]:
    """The (bands, rows) of NUM_PERM values that minimise the weighted chances of a false positive (a pair
    below the threshold sharing a band) and a false negative (a pair above it sharing none)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"a similarity threshold is between 0 and 1, not {threshold}")
    bands, rows = _PAIRS[:, 0], _PAIRS[:, 1]
    error = (false_positive * _area(0.0, threshold, bands, rows, above=False)
             + false_negative * _area(threshold, 1.0, bands, rows, above=True))
    best = int(np.argmin(error))  # the first of equals, as datasketch's loop keeps it
    return int(bands[best]), int(rows[best])
