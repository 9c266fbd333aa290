"""The destruction certificate carries a receipt of its ledger entries that verifies offline.

(Added with issue 13, the ledger's receipts; reuses test_execution's layouts and helpers.)
"""

from __future__ import annotations

import json
from datetime import date

from governance.jobs import retention as jobs
from governance.ledger.receipt import verify_receipt
from governance.ledger.signing import LedgerSigner
from governance.stores.seeding import open_objects
from tests.retention.test_execution import _sweep, _write_documents, layout  # noqa: F401 - fixture


def test_certificate_receipt_proves_its_entries_offline(layout):  # noqa: F811
    settings, b = layout
    case, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b)
    proposed, _ = _sweep(settings)
    jobs.verify(settings, proposed["batch_id"], actor="ig.bob")
    jobs.certify(settings, proposed["batch_id"], actor="ig.bob")
    cert = json.loads(open_objects(settings).get(f"retention/certificates/{proposed['batch_id']}.json"))
    receipt = cert["ledger"]["receipt"]
    published = LedgerSigner(settings.keys_dir).fingerprint()
    report = verify_receipt(receipt, published)
    assert report.ok, report.reason
    assert report.seqs[0] == cert["ledger"]["first_seq"] and report.seqs[-1] == cert["ledger"]["last_seq"]
    assert any(case in json.loads(e["body"])["record_ids"] or json.loads(e["body"])["counts"]
               for e in receipt["entries"])
    receipt["entries"][0]["body"] = receipt["entries"][0]["body"].replace('"retention.', '"forged.')
    assert not verify_receipt(receipt, published).ok
