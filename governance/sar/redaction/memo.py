"""Spans a rule found in a text, remembered for the same people and the same text.

A request's steps (redact, review pack, approval, bundle) each rebuild the working set and run the
rules again over the same records; in one process (the CLI, the benchmark, a test) the second
reading of an unchanged text with unchanged people is a lookup. Rules are deterministic (the
contract test checks it), so a remembered answer is the answer. What identifies "the same people"
is everything the rule's matchers are built from (:attr:`KnownPeople.memo_key`, plus what a rule
learned in ``prepare``); it is mapped to a small number once per request, and the memo is bounded.
Only offsets and rule names are kept, never text beyond the dictionary key the caller already holds.
"""

from __future__ import annotations

from itertools import count
from typing import Callable, Hashable

__all__ = ["SpanMemo", "context_number", "forget_all", "on_forget"]

Spans = tuple[tuple[int, int, str], ...]
_NUMBERS: dict[Hashable, int] = {}
_NEXT = count(1)


def context_number(key: Hashable) -> int:
    """A number for ``key`` (the people and what was learned), never reused: when the table is reset,
    answers remembered under old numbers can no longer be reached and age out."""
    if key not in _NUMBERS and len(_NUMBERS) >= 256:
        _NUMBERS.clear()
    number = _NUMBERS.get(key)
    if number is None:
        number = _NUMBERS[key] = next(_NEXT)
    return number


_FORGET: list[Callable[[], None]] = []


def on_forget(clear: Callable[[], None]) -> Callable[[], None]:
    """Register a cache of per-text work to be emptied by :func:`forget_all`."""
    _FORGET.append(clear)
    return clear


def forget_all() -> None:
    """Empty every memo and per-text cache (a benchmark's cold pass; a test that must not share work)."""
    _NUMBERS.clear()
    for clear in _FORGET:
        clear()


class SpanMemo:
    """(context number, text) -> spans; beyond ``size`` entries the oldest are dropped."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.data: dict[tuple[int, str], Spans] = {}
        on_forget(self.data.clear)

    def spans(self, number: int, text: str, find: Callable[[str], Spans]) -> Spans:
        key = (number, text)
        try:
            return self.data[key]
        except KeyError:
            found = self.data[key] = find(text)
            if len(self.data) > self.size:
                del self.data[next(iter(self.data))]
            return found
