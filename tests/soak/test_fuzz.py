"""The wire fuzzer: 20,000 frames of every kind through the real listener of a node
in a child process, from 16 connections, while a canary station charges. Every frame answered
per OCPP-J Part 4 or the connection closed with the right code (RFC 6455 1003, 1007, 1009), no
actor crash, the node alive, its memory bounded, the canary never disconnected."""

from __future__ import annotations

import orjson

from csms.cli import main
from csms.soak._fuzz import FuzzResult, _judge, _judge_close
from csms.soak._fuzz_frames import KINDS, Frame, FrameMaker, valid_payload

FRAMES = 20_000


def test_20000_frames_through_the_real_listener_break_nothing(tmp_path):
    out = tmp_path / "fuzz.json"
    status = main(
        ["soak", "--fuzz", str(FRAMES), "--seed", "20", "--work-dir", str(tmp_path / "w"),
         "--json", str(out)]
    )  # fmt: skip
    report = orjson.loads(out.read_bytes())
    assert report["violation_records"] == []
    assert report["frames"] == FRAMES
    assert set(report["by_kind"]) == set(KINDS)  # every kind was sent
    outcomes = report["outcomes"]
    assert outcomes["bad_utf8:closed 1007"] == report["by_kind"]["bad_utf8"]
    assert outcomes["binary:closed 1003"] == report["by_kind"]["binary"]
    assert outcomes["oversized:closed 1009"] == report["by_kind"]["oversized"]
    assert outcomes["mutated:answered"] == report["by_kind"]["mutated"]
    assert report["pre_boot_refused"] >= report["connections"]
    assert report["actor_crashes"] == 0
    assert report["node_alive"]
    canary = report["canary"]
    assert canary["connection_attempts"] == 1
    assert canary["boots"] == 1
    assert canary["errors"] == []
    assert canary["transaction_events_acknowledged"] > 0
    memory = report["memory"]
    assert memory["end_kib"] < memory["start_kib"] + 256 * 1024  # bounded, not growing per frame
    assert report["ok"]
    assert status == 0


def test_the_same_seed_makes_the_same_frames_and_every_action_has_a_payload():
    a = FrameMaker(5, max_message_size=1024)
    b = FrameMaker(5, max_message_size=1024)
    assert [a.make() for _ in range(300)] == [b.make() for _ in range(300)]
    boot = valid_payload("BootNotification")
    assert set(boot) == {"chargingStation", "reason"}
    assert boot["reason"] == "ApplicationReset"  # the enum's first value


def test_the_judge_names_a_frame_left_unanswered_or_closed_with_the_wrong_code():
    result = FuzzResult()
    call = Frame("mutated", ((1, True, b'[2,"m1","Heartbeat",{}]'),), "reply", "m1")
    _judge(call, [[3, "m1", {}]], result, "S")
    assert result.violations == []
    _judge(call, [], result, "S")
    _judge(Frame("random_text", ((1, True, b"zz"),), "callerror"), [[3, "x", {}]], result, "S")
    _judge_close(Frame("bad_utf8", ((1, True, b"\xff"),), "close:1007"), 1000, result, "S")
    assert len(result.violations) == 3
    assert result.violations[0].startswith("S mutated: reply expected, got []")
    assert "closed with 1000, expected close:1007" in result.violations[2]


def test_a_mutated_frame_beyond_the_message_limit_expects_1009_not_a_reply():
    maker = FrameMaker(3, max_message_size=400)
    frames = [maker.mutated() for _ in range(300)]
    large = [f for f in frames if len(f.parts[0][2]) > 400]
    small = [f for f in frames if len(f.parts[0][2]) <= 400]
    assert large  # the seed makes both
    assert small
    assert {f.expect for f in large} == {"close:1009"}
    assert {f.expect for f in small} == {"reply"}
