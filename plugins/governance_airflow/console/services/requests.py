"""Access requests page: the register with statutory deadlines, a request's review pack, preview and hand-over.

Changes go through the functions ``governance sar`` calls, so they write the
same ledger entries (``sar.lodged``, ``sar.reviewed``, ``sar.disclosed``) with
the user's name as actor; pausing, resuming and extending write none, as in the
CLI. The register shows identifiers, dates and statuses only; the preview (what
goes out, redacted) is the one place the console shows record content, and its
page is for records management only.

The request page shows issue 14's reviewer preview (:mod:`governance.sar.preview`:
labelled redactions, exemption codes, records withheld, flagged notes) and approves
exactly the pack hash drawn on it; flagged notes are withheld at approval only when
the reviewer ticks so (``withhold_undecided``). The "what goes out" preview is
:func:`governance.sar.export.assemble`, the document the bundle is built from.
Hand-over downloads go through issue 15's path
(:func:`governance.jobs.handover.handover_material`): package and link from object
storage, the key from the state database through the key provider; no file on the
API server's disk is read or written for them.
"""

from __future__ import annotations

import os
import threading
from datetime import date
from typing import Any

from governance.config import Settings
from governance.errors import ConfigError
from governance_airflow.console import context

__all__ = ["register", "lodge", "pause", "resume", "extend", "detail", "prepare_review", "approve", "hand_over",
           "handover_file", "WAITING_ON", "PACK_SECONDS", "PACK_ENTRIES", "PACK_IDLE_SECONDS", "REQUESTER_KINDS",
           "PAUSE_REASONS"]

from governance.sar.register import PAUSE_REASONS, REQUESTER_KINDS  # noqa: E402 - re-exported for the forms

PACK_SECONDS = 600.0  # a request's pack and previews; also recomputed whenever the ledger moves
# How long a page waits for a pack not yet built before answering "being prepared" (it reloads itself).
PAGE_WAIT_SECONDS = float(os.environ.get("GOVERNANCE_CONSOLE_PACK_WAIT_SECONDS", "0.2"))
# At most this many packs kept, none unviewed for longer than this (see _forget_old_packs).
PACK_ENTRIES = 12
PACK_IDLE_SECONDS = 900.0

WAITING_ON = {
    "received": "records management: search and redact",
    "in_progress": "records management: search and redact",
    "awaiting_identity": "the requester: identity or authority",
    "awaiting_clarification": "the requester: clarification",
    "in_review": "the reviewer: approve the review pack",
    "approved": "records management: build and hand over the bundle",
    "delivered": "nobody: answered",
    "closed": "nobody: closed",
    "withdrawn": "nobody: withdrawn",
}


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def register(settings: Settings, as_of: date) -> dict[str, Any]:
    """Every request: status, who it waits on, deadline (pauses and extension), days left."""
    from governance.sar import register as reg
    from governance.sar.tables import pauses

    import sqlalchemy as sa

    rows = []
    with context.state(settings).connect() as conn:
        paused = {r.request_id: r for r in conn.execute(sa.select(pauses.c.request_id, pauses.c.reason)
                                                         .where(pauses.c.ended_on.is_(None)))}
        for r in reg.list_requests(conn):
            calc = reg.deadline_of(conn, r["request_id"])
            deadline = r["deadline"]
            rows.append({
                "request_id": r["request_id"], "store": r["store"], "subject_person_id": r["subject_person_id"],
                "status": r["status"], "received_on": _iso(r["received_on"]), "deadline": _iso(deadline),
                "requester_kind": r["requester_kind"] or "subject", "waiting_on": WAITING_ON.get(r["status"], r["status"]),
                "clock": ("stopped: " + paused[r["request_id"]].reason) if r["request_id"] in paused else "running",
                "paused_days": calc.paused_days if calc else None,
                "extended_to": _iso(calc.extended_deadline) if calc and calc.extended_deadline else None,
                "days_left": (deadline - as_of).days if deadline else None,
                "overdue": bool(deadline and deadline < as_of and r["status"] not in ("delivered", "closed", "withdrawn")),
            })
        due = reg.due_soon(conn, as_of, 7)
    rows.sort(key=lambda x: (x["deadline"] is None, x["deadline"] or "", x["request_id"]))
    return {"as_of": as_of.isoformat(), "requests": rows, "due": due}


def lodge(settings: Settings, *, actor: str, store: str, subject_person_id: str, received_on: date,
          requester_kind: str = "subject", requester_person_id: str | None = None,
          identity_requested: bool = False) -> dict[str, Any]:
    """Register a request as ``governance sar lodge`` does (the subject's cases are held from now on)."""
    from governance.jobs.sar import lodge_request

    subject = (subject_person_id or "").strip()
    if not subject:
        raise ConfigError("lodging needs the subject's person id")
    return lodge_request(settings, store=settings.store(store).name, subject_person_id=subject,
                         received_on=received_on, actor=actor, requester_kind=requester_kind or "subject",
                         requester_person_id=(requester_person_id or "").strip() or None,
                         identity_requested=identity_requested)


def _change(settings: Settings, act) -> dict[str, Any]:
    with context.state(settings).begin() as conn:
        return {k: _iso(v) for k, v in act(conn).items()}


def pause(settings: Settings, request_id: str, *, reason: str, on: date) -> dict[str, Any]:
    from governance.sar import register as reg

    return _change(settings, lambda conn: reg.pause(conn, request_id, reason, on, context.now()))


def resume(settings: Settings, request_id: str, *, reason: str, on: date) -> dict[str, Any]:
    from governance.sar import register as reg

    return _change(settings, lambda conn: reg.resume(conn, request_id, reason, on, context.now()))


def extend(settings: Settings, request_id: str, *, notified_on: date, reason: str) -> dict[str, Any]:
    from governance.sar import register as reg

    return _change(settings, lambda conn: reg.extend(conn, request_id, notified_on, reason, context.now()))


def detail(settings: Settings, request_id: str, *, as_of: date, with_preview: bool,
           with_review: bool = False, wait: float | None = None) -> dict[str, Any]:
    """A request, its deadline calculation, its review pack as it stands and (optionally) the previews.

    ``with_review``: the reviewer's preview (:mod:`governance.sar.preview`: every record with its
    redactions labelled, exemption codes, records withheld, flagged notes awaiting a decision) as
    the escaped HTML fragment :func:`~governance.sar.preview.preview_html` renders.
    ``with_preview``: the document the bundle is built from (what goes out).

    The request, its calculation and last decision are read on every call. The pack and the
    previews come from the request's working set, which reads every person in the store to find
    those its texts name (1-2 s at 20,000 families, docs/console.md), so they are kept
    (:func:`context.latest`, bounded: :func:`_forget_old_packs`):

    - per the request's own rows in the state database (:func:`_state_of`; a reviewer's
      redaction is not ledgered): a change to the request is computed at once, and the page
      after "prepare", "approve" or a pause shows its result;
    - per ledger head, like the retention forecast: when the platform moves elsewhere, the last
      pack is shown, ``pack_current`` False, while it is recomputed in the background; also
      recomputed after ``PACK_SECONDS`` (the store changes without the ledger moving).

    Showing a pack a moment old is safe: an approval names the pack hash drawn on the page,
    and ``record_review`` refuses it if the pack as it stands now differs.

    ``wait`` seconds (the pages: :data:`PAGE_WAIT_SECONDS`): a pack not computed yet, for this
    request state, is built in the background and waited for that long; if not ready,
    ``pack_pending`` is True and the page answers at once and reloads itself (a cold build is
    seconds at 20,000 families: docs/console.md). None (the JSON API): waits for it.
    """
    from governance.sar import register as reg, review

    with context.state(settings).connect() as conn:
        request = reg.get_request(conn, request_id)
        calc = reg.deadline_of(conn, request_id)
        last = review.latest_decision(conn, request_id)
        state = _state_of(conn, request_id, request)
    result: dict[str, Any] = {"request": {k: _iso(v) for k, v in request.items()},
                              "calculation": calc.to_json() if calc else None,
                              "waiting_on": WAITING_ON.get(request["status"], request["status"]),
                              "pack": None, "preview": None, "review_html": None, "pack_error": None, "approvable": False,
                              "decision": {k: _iso(v) for k, v in last.items()} if last else None, "pack_current": True,
                              "pack_pending": False}
    discovered = request["status"] not in ("received", "awaiting_identity", "awaiting_clarification")
    if discovered or request["status"] in ("delivered", "closed"):
        # The request's own state names the view: after its own change, computed afresh (in the
        # foreground: the user who changed it sees the result); the ledger head is its version.
        context.drop_latest(lambda name: name[:2] == ("request-pack", request_id) and name[-1] != state)
        view, current = context.latest(("request-pack", request_id, as_of, with_preview, with_review, state),
                                       context.ledger_head(settings), PACK_SECONDS,
                                       lambda: _pack_now(settings, request_id, as_of, with_preview, with_review),
                                       wait=wait)
        if view is None:
            result["pack_pending"] = True
        else:
            result.update(view, pack_current=current)
    _forget_old_packs()
    return result


def _is_pack(name: Any) -> bool:
    return isinstance(name, tuple) and name[:1] == ("request-pack",)


def _forget_old_packs() -> None:
    """Bound the packs kept in the API server's memory: ``PACK_ENTRIES`` at most, least recently viewed
    out, and none left unviewed for ``PACK_IDLE_SECONDS``.

    Why: a pack and its previews are personal data (a family's records, redacted text and all). Kept
    without a limit, every request ever opened stays readable in the server's memory (a core dump, a
    debugger, a bug that serves the wrong entry) long after anyone needs it, and memory grows with
    every request and every date or view asked for. A dozen covers the requests a records team works
    on at once; a pack unviewed for a quarter of an hour is rebuilt in a second or two when next asked
    for (governance/sar/mentions.py). Checked on every request page and by a timer, so an idle server
    does not keep them either.
    """
    context.evict_latest(_is_pack, keep=PACK_ENTRIES, idle_seconds=PACK_IDLE_SECONDS)
    global _sweep
    with _sweep_lock:
        if _sweep is None or not _sweep.is_alive():
            _sweep = threading.Timer(PACK_IDLE_SECONDS + 1.0, _sweep_later)
            _sweep.daemon = True
            _sweep.start()


def _sweep_later() -> None:
    global _sweep
    with _sweep_lock:
        _sweep = None
    context.evict_latest(_is_pack, keep=PACK_ENTRIES, idle_seconds=PACK_IDLE_SECONDS)


_sweep: "threading.Timer | None" = None
_sweep_lock = threading.Lock()


def _state_of(conn: Any, request_id: str, request: dict[str, Any]) -> tuple:
    """What the pack depends on in the state database, cheaply: the request row, the discovery and
    redactions recorded, the reviewer's own redactions and confirmations (not ledgered), the decisions."""
    import sqlalchemy as sa

    from governance.sar.tables import manual_redactions as manual, records, redactions, reviews

    def counted(table: sa.Table, *more: Any) -> tuple:
        query = sa.select(sa.func.count(), *more).select_from(table).where(table.c.request_id == request_id)
        return tuple(conn.execute(query).one())

    return (tuple(sorted((k, str(v)) for k, v in request.items())), counted(records), counted(redactions, sa.func.max(redactions.c.id)),
            counted(manual, sa.func.max(manual.c.id), sa.func.count(manual.c.confirmed_at)),
            counted(reviews, sa.func.max(reviews.c.id)))


def _pack_now(settings: Settings, request_id: str, as_of: date, with_preview: bool, with_review: bool) -> dict[str, Any]:
    """The request's working set, built now: pack, approvability, the asked-for previews (or the error).

    Read-only: the workset is built in a transaction that is rolled back, so
    looking at a request changes no status.
    """
    from governance.sar import process, register as reg
    from governance.sar.article15 import article15_information
    from governance.sar.export import assemble
    from governance.jobs.sar import CONTROLLER

    ledger = context.ledger(settings)
    view: dict[str, Any] = {"pack": None, "preview": None, "review_html": None, "pack_error": None, "approvable": False}
    with context.state(settings).connect() as conn:
        request = reg.get_request(conn, request_id)
        try:
            ws = process.build_workset(settings, conn, request_id, store=context.case_store(settings, request["store"]),
                                       objects=context.objects(settings), ledger_engine=ledger.engine)
            process.check_discovery(conn, request_id, ws)
            view["pack"] = pack = process.current_pack(conn, request_id, ws)
            # Approvable from the page: nothing blocks but flagged notes, which the approval may withhold.
            view["approvable"] = len(pack["blocking"]) == (1 if pack["needs_decision"] else 0)
            if with_review:
                from governance.sar.preview import build_preview, preview_html

                view["review_html"] = preview_html(build_preview(ws, pack))
            if with_preview:
                a15 = article15_information(ws.discovery, controller=settings.extra.get("controller", CONTROLLER))
                view["preview"] = assemble(request=ws.request, deadline=ws.request["deadline"],
                                           discovery=ws.discovery, redactions=ws.redactions, article15=a15, as_of=as_of)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - a request not yet searched: say so, name the error type only
            from governance.errors import GovernanceError

            view["pack_error"] = str(exc)[:200] if isinstance(exc, GovernanceError) else type(exc).__name__
        finally:
            conn.rollback()  # nothing the workset touched is kept: looking changes nothing
    return view


def prepare_review(settings: Settings, request_id: str) -> dict[str, Any]:
    """Search, redact and prepare the pack, as ``governance sar review`` does."""
    from governance.jobs import sar as jobs

    jobs.discover_request(settings, request_id)
    jobs.redact_request(settings, request_id)
    return jobs.prepare_review(settings, request_id)


def approve(settings: Settings, request_id: str, *, reviewer: str, actor: str, seen_hash: str,
            withhold_undecided: bool = False) -> dict[str, Any]:
    """Approve the pack the reviewer saw (the hash on the page), as ``governance sar approve`` does.

    A pack that changed since the page was drawn is refused (one line: look again);
    ``withhold_undecided``: the reviewer accepts the proposed withholding of every
    flagged note not yet decided, recorded as the reviewer's decision (issue 14).
    """
    from governance.jobs.sar import record_review

    if not seen_hash:
        raise ConfigError("approval is of the pack shown: its hash is missing")
    return record_review(settings, request_id, decision="approved", reviewer=reviewer, seen_hash=seen_hash,
                         channel="console", actor=actor, withhold_undecided=withhold_undecided)


def hand_over(settings: Settings, request_id: str, *, as_of: date, actor: str) -> dict[str, Any]:
    """Build and deliver the bundle, as ``governance sar bundle`` does."""
    from governance.jobs.sar import build_bundle, deliver_bundle

    built = build_bundle(settings, request_id, as_of=as_of)
    delivered = deliver_bundle(settings, request_id, as_of=as_of, actor=actor)
    return {"request_id": request_id, "key_id": built.get("key_id"), "counts": built.get("counts", {}),
            "status": delivered.get("status"), "ledger_seq": delivered.get("ledger_seq")}


def handover_file(settings: Settings, request_id: str, part: str) -> tuple[str, bytes]:
    """The encrypted package, the key or the link of a delivered request (separate downloads, separate channels).

    Issue 15's hand-over path (:func:`governance.jobs.handover.handover_material`, as ``governance sar
    handover``): the package and link from object storage, the key unwrapped from the state database by
    the key provider and checked against the sealed manifest. Nothing is read from or written to the API
    server's disk, so any API server (or a replacement) hands over what any worker delivered.
    """
    from governance.jobs.handover import handover_material
    from governance.sar import register as reg
    from governance.sar.delivery import handover_texts

    if part not in ("package", "key", "link"):
        raise ConfigError(f"no hand-over part {part[:20]!r} (package, key or link)")
    with context.state(settings).connect() as conn:
        request = reg.get_request(conn, request_id)  # unknown id -> one line
    if request["status"] not in ("delivered", "closed"):
        raise ConfigError(f"request {request_id} is {request['status']}: nothing has been handed over")
    material = handover_material(settings, request_id, at=context.now())
    if part == "package":
        return f"{request_id}-bundle.enc", context.objects(settings).get(material["package_key"])
    texts = handover_texts(request_id, key=material["key"], url=material["url"], expires_at=material["expires"])
    return f"{request_id}-{part}.txt", texts[part].encode("utf-8")
