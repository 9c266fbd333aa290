"""Exceptions of the research capability, on the platform's one tree.

Messages name studies, extracts, keys, fields and counts; never a value from
a record (a name, a date of birth, a postcode, a pseudonym).
"""

from __future__ import annotations

from governance.errors import ConfigError, GovernanceError, KeyMaterialError

__all__ = ["ResearchError", "SpecError", "StudyNotFound", "StudyStateError", "KeyDestroyed", "ExtractUnreadable"]


class ResearchError(GovernanceError):
    """A research operation cannot go ahead."""


class SpecError(ConfigError):
    """A study specification is malformed or asks for something the platform refuses."""


class StudyNotFound(ResearchError):
    """No study with that id is registered."""


class StudyStateError(ResearchError):
    """The study is not in a state that allows the operation (e.g. building after its end)."""


class KeyDestroyed(KeyMaterialError):
    """The key was crypto-shredded: whatever it protected cannot be read again."""


class ExtractUnreadable(ResearchError):
    """An extract part cannot be decrypted or parsed (wrong key, tampered, or destroyed)."""
