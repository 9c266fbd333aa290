"""One exception tree for the platform.

Every message is a single line that is safe to print, log and show in Airflow:
it names identifiers, rules, tables, columns, files or URLs, never record
content (names, addresses, dates of birth, note text). The CLI prints
``str(error)`` and exits non-zero; only unexpected exceptions show a traceback.
"""

from __future__ import annotations

__all__ = [
    "GovernanceError",
    "ConfigError",
    "MappingError",
    "StoreUnavailable",
    "StorageError",
    "ObjectNotFound",
    "ObjectLocked",
    "StorageUnavailable",
    "KeyMaterialError",
    "LedgerError",
    "LedgerIntegrityError",
    "RecordRuleError",
]


class GovernanceError(Exception):
    """Base of every expected error: the message is one line, free of personal data."""

    exit_code = 2


class ConfigError(GovernanceError):
    """A setting is missing, malformed or contradictory."""


class MappingError(ConfigError):
    """A store mapping file does not describe a usable store."""


class StoreUnavailable(GovernanceError):
    """A case store's database cannot be reached or opened."""


class StorageError(GovernanceError):
    """Object storage failed."""


class ObjectNotFound(StorageError):
    """No object (or no version of it) exists under the key."""


class ObjectLocked(StorageError):
    """The object is under write-once retention and cannot be deleted yet."""


class StorageUnavailable(StorageError):
    """The folder or bucket cannot be reached."""


class KeyMaterialError(GovernanceError):
    """A signing or encryption key is missing, unreadable or wrong."""


class LedgerError(GovernanceError):
    """The audit ledger cannot be read or written."""


class LedgerIntegrityError(LedgerError):
    """Verification found the ledger altered; ``entry_seq`` is the first bad entry."""

    def __init__(self, message: str, entry_seq: int | None = None) -> None:
        super().__init__(message)
        self.entry_seq = entry_seq


class RecordRuleError(GovernanceError):
    """A record breaks a rule; carries the record's identifier and the rule, nothing else."""

    def __init__(self, record_id: str, rule: str, detail: str = "") -> None:
        message = f"record {record_id}: breaks rule {rule}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.record_id = record_id
        self.rule = rule
