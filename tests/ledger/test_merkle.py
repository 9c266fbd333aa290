"""The Merkle tree against RFC 6962/9162 test vectors and an independent implementation.

The vectors are the Certificate Transparency reference leaves and roots (as
published with transparency-dev/merkle and certificate-transparency-go, used
here as data). The independent implementation below is written straight from
the RFC 9162 §2.1 definitions (MTH, PATH, PROOF/SUBPROOF) with list slicing,
sharing no code with governance.ledger.merkle.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from governance.ledger.merkle import (
    EMPTY_ROOT, CompactRange, consistency_path, inclusion_path, leaf_hash, root_of, verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in
          ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CONSISTENCY = {
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


# -- RFC 9162 §2.1, written out independently ---------------------------------------

def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return rfc_path(m, d[:k]) + [rfc_mth(d[k:])]
    return rfc_path(m - k, d[k:]) + [rfc_mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = _k(n)
    if m <= k:
        return rfc_subproof(m, d[:k], b) + [rfc_mth(d[k:])]
    return rfc_subproof(m - k, d[k:], False) + [rfc_mth(d[:k])]


# -----------------------------------------------------------------------------------

def test_roots_match_the_rfc_vectors() -> None:
    hashed = [leaf_hash(x) for x in LEAVES]
    assert EMPTY_ROOT.hex() == ROOTS[0]
    for n in range(len(LEAVES) + 1):
        assert root_of(hashed[:n]).hex() == ROOTS[n]
        compact = CompactRange()
        compact.extend(hashed[:n])
        assert compact.root().hex() == ROOTS[n]


def test_proofs_match_the_rfc_vectors() -> None:
    hashed = [leaf_hash(x) for x in LEAVES]
    subtree = lambda a, b: root_of(hashed[a:b])  # noqa: E731
    for (index, size), expected in INCLUSION.items():
        path = inclusion_path(subtree, index, size)
        assert [p.hex() for p in path] == expected
        assert verify_inclusion(hashed[index], index, size, path, bytes.fromhex(ROOTS[size]))
    for (first, second), expected in CONSISTENCY.items():
        path = consistency_path(subtree, first, second)
        assert [p.hex() for p in path] == expected
        assert verify_consistency(first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), path)


def test_agrees_with_the_independent_rfc_implementation_for_every_size_to_40() -> None:
    data = [f"ledger entry {i}".encode() for i in range(40)]
    hashed = [leaf_hash(x) for x in data]
    subtree = lambda a, b: root_of(hashed[a:b])  # noqa: E731
    roots = [rfc_mth(data[:n]) for n in range(41)]
    for n in range(1, 41):
        assert root_of(hashed[:n]) == roots[n]
        for m in range(n):
            path = inclusion_path(subtree, m, n)
            assert path == rfc_path(m, data[:n])
            assert verify_inclusion(hashed[m], m, n, path, roots[n])
            assert not verify_inclusion(hashed[m], m, n, path, roots[n - 1] if n > 1 else b"x" * 32)
            if n > 1:
                assert not verify_inclusion(hashed[(m + 1) % n], m, n, path, roots[n])
        for m in range(1, n + 1):
            path = consistency_path(subtree, m, n)
            assert path == (rfc_subproof(m, data[:n], True) if m < n else [])
            assert verify_consistency(m, n, roots[m], roots[n], path)
            if m < n:
                assert not verify_consistency(m, n, roots[m - 1], roots[n], path)
                assert not verify_consistency(m, n, roots[m], roots[n], path[:-1])
                assert not verify_consistency(m, n, roots[m], roots[n], path + [b"\xcd" * 32])


def test_compact_range_extends_in_any_pieces_and_reports_perfect_subtrees() -> None:
    rng = random.Random(5)
    hashed = [leaf_hash(bytes([i % 256, i // 256])) for i in range(700)]
    nodes: dict[tuple[int, int], bytes] = {}
    compact = CompactRange(on_node=lambda level, idx, h: nodes.__setitem__((level, idx), h), node_level=3)
    done = 0
    while done < len(hashed):
        step = rng.randint(1, 90)
        compact.extend(hashed[done:done + step])
        done = min(len(hashed), done + step)
        assert compact.root() == root_of(hashed[:done])
    for (level, idx), digest in nodes.items():
        assert digest == root_of(hashed[idx << level:(idx + 1) << level])
    assert len(nodes) == sum(700 >> level for level in range(3, 10))
    resumed = CompactRange(512, compact.hashes[:1])
    resumed.extend(hashed[512:])
    assert resumed.root() == compact.root()
    with pytest.raises(ValueError):
        CompactRange(3, [b"x" * 32])
