"""The interactive prompt's commands: parsed from one line by a pure function.

``parse_command`` returns one of the frozen command classes or raises `CommandSyntaxError`
(a ValueError) whose message says what was wrong and what was expected.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "HELP",
    "CommandSyntaxError",
    "Fault",
    "FirmwareMode",
    "Help",
    "OperatorCommand",
    "Quit",
    "Reboot",
    "SendHeartbeat",
    "SetMeter",
    "SetStatus",
    "StartCharging",
    "StopCharging",
    "V2GSoc",
    "V2GStart",
    "V2GStop",
    "parse_command",
]

STATUSES: Final = ("Available", "Occupied", "Faulted", "Unavailable", "Reserved")


class CommandSyntaxError(ValueError):
    """A prompt line that is not a command."""


@attrs.frozen
class StartCharging:
    connector: int


@attrs.frozen
class StopCharging:
    connector: int | None = None


@attrs.frozen
class SetStatus:
    connector: int
    status: str


@attrs.frozen
class SetMeter:
    wh: float


@attrs.frozen
class SendHeartbeat:
    pass


@attrs.frozen
class V2GStart:
    kw: float


@attrs.frozen
class V2GStop:
    pass


@attrs.frozen
class V2GSoc:
    percent: float


@attrs.frozen
class Fault:
    connector: int


@attrs.frozen
class Reboot:
    pass


@attrs.frozen
class FirmwareMode:
    accept: bool


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Help:
    pass


OperatorCommand = (
    StartCharging
    | StopCharging
    | SetStatus
    | SetMeter
    | SendHeartbeat
    | V2GStart
    | V2GStop
    | V2GSoc
    | Fault
    | Reboot
    | FirmwareMode
    | Quit
    | Help
)

HELP: Final = """commands:
  start <connector>                          plug in and start a transaction
  stop [connector]                           end the transaction
  status <connector> <Available|Occupied|Faulted|Unavailable|Reserved>
  meter <Wh>                                 set the energy register and send MeterValues
  heartbeat                                  send a Heartbeat now
  v2g start <kW> | v2g stop | v2g soc <percent>
  fault <connector>                          report the connector Faulted
  reset                                      reboot (disconnect, boot again)
  firmware accept|reject                     how the next UpdateFirmware ends
  help, quit"""


def _int(word: str, what: str) -> int:
    try:
        value = int(word)
    except ValueError:
        raise CommandSyntaxError(f"{what} must be a whole number, got {word!r}") from None
    if value < 1:
        raise CommandSyntaxError(f"{what} must be 1 or more, got {value}")
    return value


def _number(word: str, what: str, *, low: float = 0.0, high: float = float("inf")) -> float:
    try:
        value = float(word)
    except ValueError:
        raise CommandSyntaxError(f"{what} must be a number, got {word!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise CommandSyntaxError(f"{what} must be between {low:g} and {high:g}, got {word}")
    return value


def _arity(words: list[str], n: int, usage: str) -> None:
    if len(words) != n:
        raise CommandSyntaxError(f"usage: {usage}")


def parse_command(line: str) -> OperatorCommand | None:
    """The command on ``line``; None for an empty line."""
    words = line.split()
    if not words:
        return None
    name, args = words[0].lower(), words[1:]
    if name == "start":
        _arity(args, 1, "start <connector>")
        return StartCharging(_int(args[0], "connector"))
    if name == "stop":
        if len(args) > 1:
            raise CommandSyntaxError("usage: stop [connector]")
        return StopCharging(_int(args[0], "connector") if args else None)
    if name == "status":
        _arity(args, 2, "status <connector> <Available|Occupied|Faulted>")
        status = args[1].capitalize()
        if status not in STATUSES:
            raise CommandSyntaxError(
                f"status must be one of {', '.join(STATUSES)}, got {args[1]!r}"
            )
        return SetStatus(_int(args[0], "connector"), status)
    if name == "meter":
        _arity(args, 1, "meter <Wh>")
        return SetMeter(_number(args[0], "meter reading (Wh)", high=1e12))
    if name == "heartbeat":
        _arity(args, 0, "heartbeat")
        return SendHeartbeat()
    if name == "v2g":
        return _v2g(args)
    if name == "fault":
        _arity(args, 1, "fault <connector>")
        return Fault(_int(args[0], "connector"))
    if name == "reset":
        _arity(args, 0, "reset")
        return Reboot()
    if name == "firmware":
        if len(args) != 1 or args[0].lower() not in ("accept", "reject"):
            raise CommandSyntaxError("usage: firmware accept|reject")
        return FirmwareMode(args[0].lower() == "accept")
    if name in ("quit", "exit"):
        return Quit()
    if name in ("help", "?"):
        return Help()
    raise CommandSyntaxError(f"unknown command {words[0]!r} (type help for the list)")


def _v2g(args: list[str]) -> OperatorCommand:
    usage = "v2g start <kW> | v2g stop | v2g soc <percent>"
    if not args:
        raise CommandSyntaxError(f"usage: {usage}")
    sub = args[0].lower()
    if sub == "start":
        _arity(args, 2, "v2g start <kW>")
        return V2GStart(_number(args[1], "discharge power (kW)", low=0.1, high=1000.0))
    if sub == "stop":
        _arity(args, 1, "v2g stop")
        return V2GStop()
    if sub == "soc":
        _arity(args, 2, "v2g soc <percent>")
        return V2GSoc(_number(args[1], "state of charge (%)", high=100.0))
    raise CommandSyntaxError(f"usage: {usage}")
