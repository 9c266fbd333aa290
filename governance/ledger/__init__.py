"""The audit ledger: append-only, hash-chained, a Merkle tree with signed, witnessed tree heads;
verifiable online, offline (bundles) and per entry (receipts).

Start with :meth:`Ledger.open`; see ``docs/ledger.md`` for the exact hashing and
signing rules an auditor can re-implement.
"""

from governance.ledger.bundle import ExportReport, export_bundle, verify_bundle
from governance.ledger.canonical import GENESIS_HASH, CanonicalError, canonical
from governance.ledger.ledger import Ledger
from governance.ledger.schema import Checkpoint, LedgerEntry, utc_stamp
from governance.ledger.signing import LedgerSigner
from governance.ledger.verify import VerifyReport, verify_entries

__all__ = [
    "Ledger",
    "LedgerEntry",
    "LedgerSigner",
    "Checkpoint",
    "VerifyReport",
    "ExportReport",
    "CanonicalError",
    "GENESIS_HASH",
    "canonical",
    "export_bundle",
    "verify_bundle",
    "verify_entries",
    "utc_stamp",
]
