"""The event catalog's JSON Schemas (derived by scripts/gen_events_doc.py), compiled once, and a
check that an event is a catalog event whose JSON body fits its documented shape."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import fastjsonschema

from csms.domain.events import CATALOG, Event, from_json

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def generator() -> ModuleType:
    """scripts/gen_events_doc.py, imported (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(
        "gen_events_doc", ROOT / "scripts/gen_events_doc.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def validator(cls: type[Event]) -> Callable[[Any], Any]:
    return fastjsonschema.compile(generator().json_schema(cls))


def check_event(event: Event) -> dict[str, Any]:
    """``event`` is of a catalog class, its JSON body validates against that class's schema and
    reads back as the same event; returns the body."""
    assert type(event) in CATALOG, f"{type(event).__name__} is not in the catalog"
    body = json.loads(json.dumps(event.to_json()))  # what a consumer receives
    validator(type(event))(body)  # raises JsonSchemaValueException naming the key
    assert from_json(body) == event
    return body
