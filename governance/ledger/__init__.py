"""The audit ledger: append-only, hash-chained, signed; verifiable online and offline.

Start with :meth:`Ledger.open`; see ``docs/ledger.md`` for the exact hashing and
signing rules an auditor can re-implement.
"""

from governance.ledger.bundle import ExportReport, export_bundle, verify_bundle
from governance.ledger.canonical import GENESIS_HASH, CanonicalError, canonical
from governance.ledger.ledger import Ledger
from governance.ledger.schema import Checkpoint, LedgerEntry, utc_stamp
from governance.ledger.verify import VerifyReport, verify_rows

__all__ = [
    "Ledger",
    "LedgerEntry",
    "Checkpoint",
    "VerifyReport",
    "ExportReport",
    "CanonicalError",
    "GENESIS_HASH",
    "canonical",
    "export_bundle",
    "verify_bundle",
    "verify_rows",
    "utc_stamp",
]
