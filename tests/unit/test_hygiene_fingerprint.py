"""Matching fingerprints: shifted copies (another encoder's delay, leading silence) still match, and the
min-hash keys of two encodings of one recording meet while unrelated ones do not."""

from __future__ import annotations

import numpy as np

from crate_app.hygiene.fingerprint import index_keys, same_recording, similarity


def _noisy(values: np.ndarray, rng: np.random.Generator, share: float = 0.15) -> np.ndarray:
    flips = (rng.random(len(values)) < share).astype(np.uint32) << rng.integers(0, 32, len(values)).astype(
        np.uint32
    )
    return values ^ flips


def test_shifted_and_noisy_copies_match_and_others_do_not() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2**32, size=960, dtype=np.uint64).astype(np.uint32)
    other = rng.integers(0, 2**32, size=960, dtype=np.uint64).astype(np.uint32)
    shifted = _noisy(base[37:], rng)  # 37 sub-fingerprints (~4.6 s) later, a few bits flipped
    assert same_recording(base, _noisy(base, rng))
    assert same_recording(base, shifted) and same_recording(shifted, base)
    assert similarity(base, shifted) > 0.8
    assert not same_recording(base, other)
    assert len(set(index_keys(base)) & set(index_keys(_noisy(base, rng)))) >= 4
    assert not set(index_keys(base)) & set(index_keys(other))
