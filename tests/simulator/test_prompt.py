"""The interactive prompt, driven end to end through a byte stream against a real node."""

from __future__ import annotations

import trio
import trio.testing

from csms.simulator import Ev, open_simulator, run_prompt, stream_lines

from .conftest import fast_config, register, running_node


class Console:
    """The other end of the prompt: writes lines into its input, reads its answers."""

    def __init__(self, send: trio.abc.SendStream) -> None:
        self.send = send
        self.output = ""
        self._grew = trio.Event()

    async def write(self, text: str) -> None:
        self.output += text
        self._grew.set()
        self._grew = trio.Event()

    async def greeted(self) -> None:
        while not self.output.endswith("> "):
            await self._grew.wait()

    async def run(self, line: str) -> str:
        """Type ``line`` and return the answer shown before the next prompt."""
        start = len(self.output)
        await self.send.send_all(line.encode() + b"\n")
        while not (self.output[start:].endswith("> ") or self.output[start:].endswith("bye\n")):
            await self._grew.wait()
        return self.output[start:].removesuffix("> ").strip()


async def test_every_prompt_command_and_a_bad_one(database_url):
    ev = Ev(soc=80.0, battery_kwh=75.0, v2g=True, discharge_kw=50.0)
    async with running_node(database_url) as node:
        register(database_url, "SIMP")
        async with open_simulator(fast_config(node, "SIMP", ev=ev)) as sim:
            state = sim.state
            send, receive = trio.testing.memory_stream_one_way_pair()
            console = Console(send)
            with trio.fail_after(30):
                await state.wait_for(lambda: state.online)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(run_prompt, sim.ref, stream_lines(receive), console.write)
                    await console.greeted()
                    assert "start <connector>" in await console.run("help")
                    assert "started on connector 1" in await console.run("start 1")
                    assert "already charging" in await console.run("start 1")
                    assert "at 5000 Wh" in await console.run("meter 5000")
                    assert "heartbeat sent" in await console.run("heartbeat")
                    await state.wait_for(lambda: state.sent["Heartbeat"] >= 1)
                    assert "discharging at 7 kW" in await console.run("v2g start 7")
                    assert "state of charge 55 %" in await console.run("v2g soc 55")
                    assert "charging at 22 kW" in await console.run("v2g stop")
                    assert "ended" in await console.run("stop")
                    assert "error: no transaction is running" in await console.run("stop")
                    assert "connector 1 is Occupied" in await console.run("status 1 Occupied")
                    assert "connector 1 is Available" in await console.run("status 1 available")
                    assert "connector 1 is Faulted" in await console.run("fault 1")
                    assert "error: no connector 2" in await console.run("fault 2")
                    assert "will fail" in await console.run("firmware reject")
                    assert "will succeed" in await console.run("firmware accept")
                    assert "unknown command 'fly'" in await console.run("fly to the moon")
                    assert "usage: status" in await console.run("status 1")
                    assert "must be a number" in await console.run("meter lots")
                    assert "rebooting" in await console.run("reset")
                    await state.wait_for(lambda: state.boots == 2 and state.online)
                    assert await console.run("quit") == "bye"
                await state.wait_for(lambda: not state.queue)
            assert state.sent["MeterValues"] == 1
            # set to 55 % (from 80), then charged for the moments until the stop
            assert 55.0 <= state.model.ev.soc < 79.0
