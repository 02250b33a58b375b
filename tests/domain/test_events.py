"""The event catalog: one class per subject, each with a documented JSON shape that its bodies
fit, and docs/EVENTS.md generated from it."""

from __future__ import annotations

import datetime as dt
import re

import attrs
import fastjsonschema
import pytest

from csms.domain import events
from csms.domain.events import (
    BY_SUBJECT,
    CATALOG,
    STATION_MESSAGES,
    TRANSACTION_EVENTS,
    CommandResponse,
    Event,
    StationBooted,
    from_json,
)
from tests.event_schemas import ROOT, check_event, generator, validator

SUBJECT = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")


def test_subjects_are_unique_and_follow_the_pattern() -> None:
    subjects = [cls.subject for cls in CATALOG]
    assert len(subjects) == len(set(subjects))
    assert [s for s in subjects if not SUBJECT.fullmatch(s)] == []
    assert {cls.subject: cls for cls in CATALOG} == BY_SUBJECT


def test_the_catalog_lists_every_event_class_of_the_module() -> None:
    """A class added to the module but not to CATALOG would be undocumented and unvalidated."""
    defined = {
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, Event) and "subject" in vars(value)
    }
    assert defined == set(CATALOG)
    assert len(CATALOG) == len(set(CATALOG))


def test_the_subjects_the_spec_names_are_in_the_catalog() -> None:
    """SPEC section 8, including those no actor publishes yet (V2G sessions, firmware jobs)."""
    named = {
        "ocpp.command.sent",
        "ocpp.command.response",
        "ocpp.command.timeout",
        "v2g.session.started",
        "v2g.session.updated",
        "v2g.session.completed",
        "firmware.update.started",
        "firmware.update.progress",
        "firmware.update.completed",
        "firmware.update.failed",
        "station.connected",
        "station.disconnected",
        "transaction.started",
        "transaction.updated",
        "transaction.ended",
        "security.event",
    }
    assert named - set(BY_SUBJECT) == set()


def test_every_class_is_a_frozen_slotted_attrs_class_with_documented_fields() -> None:
    for cls in CATALOG:
        assert attrs.has(cls)
        assert "__slots__" in vars(cls), cls
        assert isinstance(cls.schema, int)
        assert cls.schema >= 1
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
        undocumented = [f.name for f in attrs.fields(cls) if not f.metadata.get("doc")]
        assert undocumented == [], cls
        correlation = {"command_id", "transaction_id", "session_id", "job_id"}
        assert {"at", "node_id"} <= attrs.fields_dict(cls).keys()
        if cls.subject.startswith(("ocpp.command.", "transaction.", "v2g.", "firmware.update.")):
            assert correlation & attrs.fields_dict(cls).keys(), cls
    one = StationBooted(station_id="CP1", status="Accepted", reason="PowerUp")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        one.status = "Rejected"  # type: ignore[misc]


@pytest.mark.parametrize("cls", CATALOG, ids=lambda cls: cls.subject)
def test_every_event_round_trips_through_its_documented_json_shape(cls: type[Event]) -> None:
    event = generator().example(cls)
    body = check_event(event)
    assert list(body)[:4] == ["schema", "subject", "at", "nodeId"]
    assert body["subject"] == cls.subject
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", key) for key in body), "keys are camelCase"


def test_the_body_is_camel_case_with_every_key_present() -> None:
    at = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    event = CommandResponse(
        at=at,
        node_id="node-7",
        command_id="c-1",
        station_id="CP1",
        action="Reset",
        outcome="callerror",
        response=None,
        error_code="NotSupported",
        error_description="no",
    )
    assert event.to_json() == {
        "schema": 1,
        "subject": "ocpp.command.response",
        "at": "2025-01-02T03:04:05+00:00",
        "nodeId": "node-7",
        "commandId": "c-1",
        "stationId": "CP1",
        "action": "Reset",
        "outcome": "callerror",
        "response": None,
        "errorCode": "NotSupported",
        "errorDescription": "no",
    }


def test_the_schemas_refuse_what_the_classes_would_not_produce() -> None:
    """The derived schemas are not vacuous: a wrong type, a missing or an extra key, an
    unstamped node id, another subject's body all fail."""
    body = generator().example(StationBooted).to_json()
    check = validator(StationBooted)
    check(body)
    wrong = [
        {**body, "stationId": 7},
        {k: v for k, v in body.items() if k != "reason"},
        {**body, "extra": 1},
        {**body, "nodeId": ""},
        {**body, "at": "yesterday"},
        {**body, "subject": "station.connected"},
        {**body, "schema": 2},
    ]
    for candidate in wrong:
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            check(candidate)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validator(CommandResponse)(
            {**generator().example(CommandResponse).to_json(), "outcome": "x"}
        )


def test_from_json_refuses_unknown_subjects_and_other_schema_versions() -> None:
    body = generator().example(StationBooted).to_json()
    with pytest.raises(ValueError, match="unknown subject"):
        from_json({**body, "subject": "station.nope"})
    with pytest.raises(ValueError, match="schema 2"):
        from_json({**body, "schema": 2})
    with pytest.raises(ValueError, match="reason is missing"):
        from_json({k: v for k, v in body.items() if k != "reason"})


def test_the_lookup_tables() -> None:
    assert {t: cls.subject for t, cls in TRANSACTION_EVENTS.items()} == {
        "Started": "transaction.started",
        "Updated": "transaction.updated",
        "Ended": "transaction.ended",
    }
    assert all(cls.action == action for action, cls in STATION_MESSAGES.items())
    assert len(STATION_MESSAGES) == len({cls.subject for cls in STATION_MESSAGES.values()})


# -- docs/EVENTS.md ------------------------------------------------------------------------------


def test_docs_events_md_is_current() -> None:
    on_disk = (ROOT / "docs/EVENTS.md").read_text("utf-8")
    assert on_disk == generator().render(), "run: .venv/bin/python scripts/gen_events_doc.py"


def test_the_document_is_marked_generated_and_has_a_section_per_subject() -> None:
    text = generator().render()
    assert text.splitlines()[0].startswith("<!-- Generated by scripts/gen_events_doc.py")
    headings = re.findall(r"^## `([^`]+)`$", text, flags=re.MULTILINE)
    assert headings == [cls.subject for cls in CATALOG]
    assert generator().render() == text  # deterministic
