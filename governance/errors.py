"""One exception tree for the platform.

Every message is a single line that is safe to print, log and show in Airflow:
it names identifiers, rules, tables, columns, files or URLs, never record
content (names, addresses, dates of birth, note text). The CLI prints
``str(error)`` and exits 2.

Failures that arrive as other exceptions (a file that cannot be written, a
mapping file that is not UTF-8, a database that refused a write because a
concurrent run got there first) are turned into this tree by :func:`translate`,
so every command and every task reports them the same way: one line naming the
file, database, table or column and what went wrong, never a value from a row.
Anything :func:`translate` does not recognise becomes :class:`UnexpectedError`,
whose line names only the exception's type; the traceback is for ``--debug``.
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
    "LocalFileError",
    "DatabaseError",
    "ConcurrentChange",
    "UnexpectedError",
    "translate",
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


class LocalFileError(GovernanceError):
    """A local file or folder cannot be read or written (missing, not a folder, read-only, exists)."""


class DatabaseError(GovernanceError):
    """A database refused a statement: a missing table or column, a locked or read-only file."""


class ConcurrentChange(DatabaseError):
    """A write lost to a concurrent run (unique key taken, serialisation failure, deadlock)."""


class UnexpectedError(GovernanceError):
    """An exception the platform does not expect; the line names its type, ``--debug`` shows where."""


# -- translating other exceptions into the tree -------------------------------------------

# Messages SQLite raises that name only tables, columns and conditions, never a value: these
# are safe to repeat. Any other database message is summarised by its class alone.
_SAFE_SQLITE_MESSAGES = (
    "no such table", "no such column", "unique constraint failed", "not null constraint failed",
    "foreign key constraint failed", "database is locked", "database table is locked", "unable to open database file",
    "attempt to write a readonly database", "disk i/o error", "database disk image is malformed", "database or disk is full",
    "file is not a database", "table ", "has no column named",
)
# PostgreSQL SQLSTATE classes that mean "another transaction got there first".
_CONCURRENT_SQLSTATES = {"23505": "unique key already taken", "40001": "serialisation failure", "40P01": "deadlock"}
# PostgreSQL: undefined table, undefined column (a mapping naming what the database lacks).
_UNDEFINED_SQLSTATES = {"42P01", "42703"}
_MAPPING_HINT = " (does the store's mapping match its database? run `governance store check`)"
_OS_PROBLEMS = {
    "FileExistsError": "already exists",
    "FileNotFoundError": "does not exist (or a folder on its path is missing)",
    "NotADirectoryError": "is not a folder (a file is in the way)",
    "IsADirectoryError": "is a folder, a file was expected",
    "PermissionError": "permission denied",
}


def translate(exc: BaseException) -> GovernanceError:
    """The platform's error for any exception: itself if already one, else a one-line translation.

    The line names paths, databases, tables, columns and constraint names only. A
    database's own message is repeated only when it is one of SQLite's
    value-free messages; PostgreSQL's are summarised from their diagnostic fields
    (table, column, constraint) because their text can quote a row's values.
    """
    if isinstance(exc, GovernanceError):
        return exc
    if isinstance(exc, UnicodeDecodeError):
        return LocalFileError(f"a file is not UTF-8 text (undecodable byte at position {exc.start})")
    if isinstance(exc, OSError):
        return _from_os_error(exc)
    database_error = _from_database_error(exc)
    if database_error is not None:
        return database_error
    return UnexpectedError(f"unexpected {type(exc).__name__}")


def _from_os_error(exc: OSError) -> LocalFileError:
    import errno

    path = exc.filename if exc.filename is not None else "a file or connection"
    if exc.errno == errno.EROFS:
        problem = "is on a read-only file system"
    elif exc.errno == errno.ENOSPC:
        problem = "cannot be written: the disk is full"
    else:
        problem = _OS_PROBLEMS.get(type(exc).__name__) or (exc.strerror or type(exc).__name__).lower()
    return LocalFileError(f"{path}: {problem}")


def _from_database_error(exc: BaseException) -> DatabaseError | None:
    try:
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return None
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    orig = exc.orig
    rolled_back = "the transaction was rolled back: run the command again"
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # psycopg: the diagnostic fields, not the message (it can quote values)
        diag = getattr(orig, "diag", None)
        names = [f"{label} {value}" for label, value in (
            ("table", getattr(diag, "table_name", None)), ("column", getattr(diag, "column_name", None)),
            ("constraint", getattr(diag, "constraint_name", None))) if value]
        where = f" ({', '.join(names)})" if names else ""
        if sqlstate in _CONCURRENT_SQLSTATES:
            return ConcurrentChange(f"the database refused a write: {_CONCURRENT_SQLSTATES[sqlstate]}{where}; "
                                    f"another run may have made the same change at the same time (or the source "
                                    f"holds a duplicated id); {rolled_back}")
        if sqlstate in _UNDEFINED_SQLSTATES:  # these messages quote only the missing name
            primary = getattr(diag, "message_primary", None) or type(orig).__name__
            return DatabaseError(f"the database refused a statement: {primary}{_MAPPING_HINT}")
        return DatabaseError(f"the database refused a statement: {type(orig).__name__} (SQLSTATE {sqlstate}){where}")
    message = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    safe = any(message.lower().startswith(prefix) for prefix in _SAFE_SQLITE_MESSAGES) and "'" not in message
    shown = message if safe else type(orig).__name__
    if isinstance(exc, sa_exc.IntegrityError) and "unique" in message.lower():
        return ConcurrentChange(f"the database refused a write: {shown}; another run may have made the same change "
                                f"at the same time; {rolled_back}")
    if "locked" in message.lower():
        return ConcurrentChange(f"the database is busy: {shown}; another run holds it; {rolled_back}")
    hint = _MAPPING_HINT if "no such" in message.lower() or "has no column" in message.lower() else ""
    if isinstance(exc, sa_exc.OperationalError) and not safe:  # e.g. a dropped connection: the class says enough
        return DatabaseError(f"a database operation failed: {shown} (is the database reachable?)")
    return DatabaseError(f"the database refused a statement: {shown}{hint}")
