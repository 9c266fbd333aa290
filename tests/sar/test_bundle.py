"""A request answered end to end on real parts: SQLite and PostgreSQL, a local folder and S3 over HTTP.

The bundle must decrypt with its key, its manifest must verify, the PDF must
render (checked structurally in pure Python, its text read back with a
standard font, and opened, drawn and read by pdfium as a viewer would), and no
personal data may reach the ledger, the state tables or the returned values.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
import uuid
import zlib
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.errors import KeyMaterialError
from governance.jobs import sar as jobs
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.sar import package as pkg
from governance.sar import tables
from governance.state import state_engine
from governance.stores.seeding import open_objects, seed_store
from governance.stores.store import open_store

from tests.sar.conftest import make_settings, release_flagged

SUBJECT = "P000000000"


def _canaries(settings, *, third_parties_only: bool = False) -> list[str]:
    """Names, phones, addresses and note text from the subject's family: none may leave the bundle.

    ``third_parties_only``: the strings that must not be in the bundle either
    (everyone in the family but the subject, whose own details are theirs to see).
    """
    store = open_store(settings.store("default"))
    with store.engine.connect() as conn:
        people = conn.execute(store.select("person", ["id", "given_name", "family_name", "phone", "address"])
                              .where(store.raw("person", "family_id") == "F0000000")).mappings().all()
        notes = conn.execute(store.select("casenote", ["body"]).where(store.raw("casenote", "case_id") == "C00000000")).scalars().all()
    store.engine.dispose()
    subject = next(p for p in people if p["id"] == SUBJECT)
    if third_parties_only:
        others = [p for p in people if p["id"] != SUBJECT]
        return sorted({f"{p['given_name']} {p['family_name']}" for p in others}
                      | {p["phone"] for p in others if p["phone"]}
                      | {p["address"] for p in others if p["address"] and p["address"] != subject["address"]})
    out = [f"{p['given_name']} {p['family_name']}" for p in people]
    out += [p["phone"] for p in people if p["phone"]] + [p["address"] for p in people if p["address"]]
    return out + [n[10:50] for n in notes]


def _answer(settings, as_of=date(2026, 6, 20)) -> tuple[str, dict, dict]:
    lodged = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                                actor="test")
    rid = lodged["request_id"]
    results = {"lodge": lodged, "discover": jobs.discover_request(settings, rid), "redact": jobs.redact_request(settings, rid)}
    release_flagged(settings, rid)
    pack = jobs.prepare_review(settings, rid)
    results["review"] = jobs.record_review(settings, rid, decision="approved", reviewer="reviewer.one",
                                           seen_hash=pack["pack_hash"], channel="cli", actor="cli:reviewer.one")
    results["build"] = jobs.build_bundle(settings, rid, as_of=as_of)
    results["deliver"] = jobs.deliver_bundle(settings, rid, as_of=as_of, actor="test")
    return rid, pack, results


def _pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream of a PDF, inflated: found by its dictionary's /Length, as a reader would."""
    out = []
    for m in re.finditer(rb"<<((?:(?!<<).)*?/Length (\d+)(?:(?!<<).)*?)>>\s*stream\r?\n", pdf, re.S):
        data = pdf[m.end():m.end() + int(m.group(2))]
        assert pdf[m.end() + int(m.group(2)):].lstrip().startswith(b"endstream")
        if b"ASCII85Decode" in m.group(1):
            data = base64.a85decode(data.strip().removesuffix(b"~>"))
        out.append(zlib.decompress(data) if b"FlateDecode" in m.group(1) else data)
    return out


def test_answered_end_to_end(settings) -> None:
    seed_store(settings, families=12, seed=7)
    canaries = _canaries(settings)
    rid, pack, results = _answer(settings)

    assert results["deliver"]["status"] == "delivered"
    assert pack["redactions_by_code"]["SCH2-P16"] > 0
    for value in results.values():
        text = json.dumps(value, default=str)
        assert not any(c in text for c in canaries), "personal data in a job's return value"

    # The package decrypts with the handed-over key; the manifest verifies; a wrong key does not open it.
    blob = open_objects(settings).get(f"sar/{rid}/bundle.enc")
    key = bytes.fromhex(Path(results["deliver"]["key_file"]).read_text().splitlines()[-1])
    files, manifest, problems = pkg.open_package(blob, key)
    assert problems == []
    assert {f["name"] for f in manifest["files"]} == {"bundle.pdf", "bundle.json", "README.txt"}
    outer = json.loads(open_objects(settings).get(f"sar/{rid}/manifest.json"))
    assert outer["package"]["sha256"] == results["build"]["package_sha256"]
    assert outer["package"]["key_id"] == pkg.key_id(key)
    with pytest.raises(KeyMaterialError):
        pkg.open_package(blob, bytes(32))
    tampered = bytearray(blob)
    tampered[-5] ^= 1
    with pytest.raises(KeyMaterialError):
        pkg.open_package(bytes(tampered), key)
    files["bundle.json"] += b" "
    assert pkg.verify_manifest(manifest, files) == ["bundle.json: SHA-256 does not match the manifest"]

    # The key file and the link file are private, and apart.
    for name in ("key_file", "link_file"):
        assert Path(results["deliver"][name]).stat().st_mode & 0o077 == 0

    # The hold: delivered, closed_at set; the disclosure recorded with counts.
    with state_engine(settings).connect() as conn:
        row = conn.execute(sa.select(tables.requests).where(tables.requests.c.request_id == rid)).mappings().one()
        shared = conn.execute(sa.select(tables.disclosures)).mappings().one()
        state_text = json.dumps([[dict(r) for r in conn.execute(sa.select(t)).mappings()]
                                 for t in (tables.requests, tables.records, tables.searches, tables.redactions,
                                           tables.reviews, tables.disclosures)], default=str)
    assert row["status"] == "delivered" and row["closed_at"] is not None
    assert shared["records_included"] == results["build"]["counts"]["records"]
    assert not any(c in state_text for c in canaries), "personal data in the state tables"

    # The ledger: lodged, reviewed, disclosed; identifiers and counts only; verifies.
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        entries = [e for e in ledger.entries() if rid in e.record_ids]
        assert ledger.verify().ok
    finally:
        ledger.close()
    assert [e.action for e in entries] == ["sar.lodged", "sar.reviewed", "sar.disclosed"]
    assert entries[-1].counts["redactions"] == sum(pack["redactions_by_code"].values())
    assert not any(c in json.dumps([e.to_dict() for e in entries]) for c in canaries)

    # Retrying delivery finds the first one.
    again = jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 21), actor="test")
    assert again["already_delivered"] and again["ledger_seq"] == results["deliver"]["ledger_seq"]


def test_the_pdf_renders_with_boxes_labelled_by_code(sqlite_settings, monkeypatch, tmp_path) -> None:
    settings = sqlite_settings
    seed_store(settings, families=12, seed=7)
    third_parties = _canaries(settings, third_parties_only=True)
    rid, _, results = _answer(settings)
    key = bytes.fromhex(Path(results["deliver"]["key_file"]).read_text().splitlines()[-1])
    files, _, _ = pkg.open_package(open_objects(settings).get(f"sar/{rid}/bundle.enc"), key)
    pdf, document = files["bundle.pdf"], json.loads(files["bundle.json"])

    # Structure, in pure Python: header, trailer, pages, every stream inflates.
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert pages >= 2 and f"/Count {pages}".encode() in pdf
    assert _pdf_streams(pdf)

    # The JSON holds the same records, with redactions as codes and no third-party text.
    flat = json.dumps(document)
    assert "[REDACTED SCH2-P16]" in flat
    assert third_parties and not [c for c in third_parties if c in flat], "a third party's details reached the bundle"
    subject = document["sections"][0]["records"][0]["details"]
    assert f"{subject['given_name']} {subject['family_name']}" in flat  # the subject's own name is theirs

    # Text read back: rendered again with a standard font, whose text stays readable in the content streams.
    from governance.sar import pdf as pdf_module

    monkeypatch.setattr(pdf_module, "_fonts", lambda: ("Helvetica", "Helvetica-Bold"))
    plain = pdf_module.render_pdf(document)
    text = b"".join(_pdf_streams(plain)).decode("latin-1")
    shown = [w.replace("\\(", "(").replace("\\)", ")").replace("\\\\", "\\")
             for w in re.findall(r"\((.*?)(?<!\\)\) Tj", text)]
    words = " ".join(shown)  # the text as drawn, word by word
    boxes = sum(1 for s in document["sections"] for r in s["records"] for f in r["fields"].values()
                for p in f["segments"] if "code" in p)
    withheld = sum(len(r["withheld"] or []) for s in document["sections"] for r in s["records"])
    legend = len(document["exemptions"])
    labels = sum(shown.count(code) for code in document["exemptions"])
    assert labels == boxes + withheld + legend
    assert "re f" in text or " re\nf" in text or "re\nf" in text  # filled rectangles: the boxes
    assert "Your subject access request" in words and "Information Commissioner's Office" in words
    for canary in third_parties:
        assert canary not in words
    assert f"{subject['given_name']} {subject['family_name']}" in words

    # Opened by a real PDF engine (pdfium, pinned in the dev extras), as a family's viewer would:
    # every page parses, the first two draw, and the text it extracts from the bundle *as
    # delivered* (embedded font) holds no third party's details but does hold the subject's name.
    import pypdfium2 as pdfium

    opened = pdfium.PdfDocument(pdf)
    try:
        assert len(opened) == pages
        extracted = []
        for index in range(pages):
            page = opened[index]
            extracted.append(page.get_textpage().get_text_range())
            if index < 2:
                image = page.render(scale=50 / 72).to_pil().convert("L")
                image.save(tmp_path / f"page-{index + 1}.png")  # to look at by hand
                dark = sum(1 for v in image.getdata() if v < 100)
                assert dark > 500, f"page {index + 1} looks blank"
    finally:
        opened.close()
    seen = " ".join(" ".join(extracted).split())
    for canary in third_parties:
        assert canary not in seen
    assert "Your subject access request" in seen
    assert f"{subject['given_name']} {subject['family_name']}" in seen


@pytest.fixture
def s3_settings(tmp_path, moto_server):
    import boto3

    bucket = f"gov-sar-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return make_settings(tmp_path / "var", objects_url=f"s3://{bucket}/governance", s3_endpoint_url=moto_server)


def test_on_s3_the_bundle_is_fetched_by_an_expiring_presigned_url(s3_settings) -> None:
    settings = s3_settings
    seed_store(settings, families=6, seed=3)
    rid, _, results = _answer(settings)
    delivered = results["deliver"]
    assert delivered["package_uri"].startswith("s3://") and delivered["url_expires_at"]
    link = Path(delivered["link_file"]).read_text().splitlines()[-1]
    assert "X-Amz-Expires=604800" in link and "X-Amz-Signature=" in link
    with urllib.request.urlopen(link, timeout=10) as response:  # boto3 over HTTP to moto, as to AWS
        fetched = response.read()
    key = bytes.fromhex(Path(delivered["key_file"]).read_text().splitlines()[-1])
    _, manifest, problems = pkg.open_package(fetched, key)
    assert problems == [] and manifest["request_id"] == rid
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(tables.disclosures.c.url_expires_at)).scalar_one() is not None


def test_withheld_records_keep_their_place_but_show_no_text(sqlite_settings) -> None:
    """The JSON export: withheld records keep their place and date, with no text; Article 15 information."""
    settings = sqlite_settings
    seed_store(settings, families=12, seed=7)
    rid, _, results = _answer(settings)
    key = bytes.fromhex(Path(results["deliver"]["key_file"]).read_text().splitlines()[-1])
    files, _, _ = pkg.open_package(open_objects(settings).get(f"sar/{rid}/bundle.enc"), key)
    document = json.loads(files["bundle.json"])
    records = [r for s in document["sections"] for r in s["records"]]
    withheld = [r for r in records if r["withheld"]]
    assert all(r["fields"] == {} and r["date"] for r in withheld)
    assert document["format"] == "governance-sar-bundle/1"
    assert document["article15"]["retention"] and document["article15"]["complaint"].startswith("You can complain")
