"""The interactive prompt: lines in, one answer per line out, until ``quit`` or end of input."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

import trio

from csms.runtime import ActorRef, AskTimeout, Rejected

from ._commands import HELP, CommandSyntaxError, Help, Quit, parse_command

__all__ = ["run_prompt", "stream_lines"]

Write = Callable[[str], Awaitable[None]]


async def run_prompt(station: ActorRef, lines: AsyncIterable[str], write: Write) -> None:
    """Read commands from ``lines`` and carry them out on ``station``; answers go to ``write``."""
    await write("csms simulator: type help for the commands\n> ")
    async for line in lines:
        try:
            command = parse_command(line)
        except CommandSyntaxError as exc:
            await write(f"error: {exc}\n> ")
            continue
        if command is None:
            await write("> ")
            continue
        if isinstance(command, Quit):
            await write("bye\n")
            return
        if isinstance(command, Help):
            await write(HELP + "\n> ")
            continue
        try:
            reply = await station.ask(command, timeout=10.0)
        except Rejected as exc:
            await write(f"error: {exc}\n> ")
        except AskTimeout:
            await write("error: the station did not answer\n> ")
        else:
            await write(f"{reply}\n> ")


async def stream_lines(stream: trio.abc.ReceiveStream, limit: int = 4096) -> AsyncIterator[str]:
    """Text lines from a byte stream (a pipe, a socket); a longer line is cut at ``limit``."""
    buffer = b""
    while True:
        chunk = await stream.receive_some()
        if not chunk:
            if buffer:
                yield buffer.decode("utf-8", "replace")
            return
        buffer += chunk
        while b"\n" in buffer or len(buffer) >= limit:
            cut = buffer.find(b"\n")
            line, buffer = (
                (buffer[:cut], buffer[cut + 1 :])
                if 0 <= cut < limit
                else (
                    buffer[:limit],
                    buffer[limit:],
                )
            )
            yield line.decode("utf-8", "replace")
