"""The request register on SQLite and PostgreSQL: requesters, pauses, extension, status, the hold."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from governance.sar import register
from governance.sar.register import RequestError
from governance.sar.tables import PENDING_STATUSES, requests
from governance.state import state_engine

AT = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
D = date


@pytest.fixture
def conn(settings):
    with state_engine(settings).begin() as connection:
        yield connection


def _lodge(conn, rid="sar-t-1", received=D(2026, 6, 1), **kw):
    row, created = register.lodge(conn, request_id=rid, store="default", subject_person_id="P1", received_on=received,
                                  at=AT, **kw)
    return row


def _held_subjects(conn) -> set[str]:
    """What the retention sweep reads: subjects of requests whose status is pending."""
    query = sa.select(requests.c.subject_person_id).where(requests.c.status.in_(PENDING_STATUSES))
    return set(conn.execute(query).scalars())


def test_a_subjects_request_holds_until_delivered_or_closed(conn) -> None:
    row = _lodge(conn)
    assert row["status"] == "received" and row["deadline"] == D(2026, 7, 1)
    assert _held_subjects(conn) == {"P1"}
    again, created = register.lodge(conn, request_id="sar-t-1", store="default", subject_person_id="P1",
                                    received_on=D(2026, 6, 1), at=AT)
    assert not created and again["request_id"] == "sar-t-1"
    with pytest.raises(RequestError, match="another subject"):
        register.lodge(conn, request_id="sar-t-1", store="default", subject_person_id="P2", received_on=D(2026, 6, 1), at=AT)
    register.set_status(conn, "sar-t-1", "in_progress", AT)
    assert _held_subjects(conn) == {"P1"}
    register.set_status(conn, "sar-t-1", "delivered", AT)
    assert _held_subjects(conn) == set()
    assert register.get_request(conn, "sar-t-1")["closed_at"] is not None
    with pytest.raises(RequestError, match="no further changes"):
        register.set_status(conn, "sar-t-1", "in_progress", AT)
    _lodge(conn, "sar-t-2")
    register.close(conn, "sar-t-2", "withdrawn", AT)
    assert _held_subjects(conn) == set()


def test_a_parents_request_needs_the_childs_competence_and_view(conn) -> None:
    with pytest.raises(RequestError, match="parent_basis, child_competence"):
        _lodge(conn, requester_kind="parent_carer")
    base = dict(requester_kind="parent_carer", requester_person_id="P2", competence_assessed_by="sw.okoro",
                competence_assessed_on=D(2026, 6, 2), subject_dob=D(2019, 4, 1))
    with pytest.raises(RequestError, match="child_authorised needs"):
        _lodge(conn, parent_basis="child_authorised", child_competence="competent", child_view="objects", **base)
    with pytest.raises(RequestError, match="contradicts"):
        _lodge(conn, parent_basis="child_lacks_understanding", child_competence="competent", child_view="no_view", **base)
    row = _lodge(conn, parent_basis="child_lacks_understanding", child_competence="not_competent",
                 child_view="unable_to_express", **base)
    assert (row["requester_kind"], row["child_view"]) == ("parent_carer", "unable_to_express")
    adult = {**base, "subject_dob": D(2006, 1, 1)}
    with pytest.raises(RequestError, match="adult"):
        _lodge(conn, "sar-t-3", parent_basis="child_best_interest", child_competence="competent", child_view="agrees", **adult)


def test_an_agent_needs_authority_and_the_subject_takes_no_parent_fields(conn) -> None:
    with pytest.raises(RequestError, match="authority evidence"):
        _lodge(conn, requester_kind="agent")
    row = _lodge(conn, requester_kind="agent", authority_evidence="written_authority", authority_requested=True)
    assert row["status"] == "awaiting_identity" and row["deadline"] is None  # clock waits for the authority
    with pytest.raises(RequestError, match="takes no"):
        _lodge(conn, "sar-t-2", child_view="agrees")


def test_identity_pause_restarts_the_month_from_its_receipt(conn) -> None:
    row = _lodge(conn, received=D(2026, 3, 10), identity_requested=True)
    assert row["status"] == "awaiting_identity" and row["deadline"] is None
    assert _held_subjects(conn) == {"P1"}  # held while waiting too
    row = register.resume(conn, "sar-t-1", "identity", D(2026, 3, 20), AT)
    assert row["status"] == "received" and row["deadline"] == D(2026, 4, 20)


def test_clarification_and_extension(conn) -> None:
    _lodge(conn, received=D(2026, 6, 1))
    row = register.pause(conn, "sar-t-1", "clarification", D(2026, 6, 5), AT)
    assert row["status"] == "awaiting_clarification" and row["deadline"] is None
    with pytest.raises(RequestError, match="already awaiting"):
        register.pause(conn, "sar-t-1", "clarification", D(2026, 6, 6), AT)
    row = register.resume(conn, "sar-t-1", "clarification", D(2026, 6, 15), AT)
    assert row["deadline"] == D(2026, 7, 13)
    row = register.extend(conn, "sar-t-1", D(2026, 7, 10), "complex", AT)
    # Three months from 1 June = 1 September, + 10 days paused = 11 September 2026 (a Friday).
    assert row["deadline"] == D(2026, 9, 11)
    _lodge(conn, "sar-t-2", received=D(2026, 1, 5))
    assert register.extend(conn, "sar-t-2", D(2026, 2, 6), "numerous", AT)["deadline"] == D(2026, 2, 5)  # too late


def test_due_soon_counts_pending_requests_near_their_deadline(conn) -> None:
    _lodge(conn, "sar-a-1", received=D(2026, 6, 3))  # due 3 July
    _lodge(conn, "sar-b-1", received=D(2026, 4, 1))  # due 1 May: overdue
    _lodge(conn, "sar-c-1", received=D(2026, 6, 25))  # due 27 July (25 July is a Saturday): not yet
    _lodge(conn, "sar-d-1", received=D(2026, 6, 20), identity_requested=True)  # clock stopped
    _lodge(conn, "sar-e-1", received=D(2026, 6, 2))
    register.set_status(conn, "sar-e-1", "delivered", AT)  # answered: not counted
    result = register.due_soon(conn, D(2026, 6, 29), 7)
    assert (result["pending"], result["due_soon"], result["overdue"], result["clock_stopped"]) == (4, 1, 1, 1)
    assert result["due_soon_ids"] == ["sar-a-1"] and result["overdue_ids"] == ["sar-b-1"]


def test_request_ids_are_stable_and_safe(conn) -> None:
    a = register.new_request_id("default", "P1", D(2026, 6, 1), "run-1")
    assert a == register.new_request_id("default", "P1", D(2026, 6, 1), "run-1") != register.new_request_id(
        "default", "P1", D(2026, 6, 1), "run-2")
    assert a.startswith("sar-20260601-")
    with pytest.raises(RequestError, match="request id"):
        _lodge(conn, "SAR 1")
