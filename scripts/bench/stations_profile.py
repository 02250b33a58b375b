"""Run ``csms serve`` profiled (yappi, GC pauses, tracemalloc) for ``scripts/bench/stations.py``.

    python scripts/bench/stations_profile.py yappi|gc|gc-freeze|memory OUT.prof serve [csms options]

``gc``: no profiler; every garbage collection's duration is recorded (``gc.callbacks``) and
``OUT.gc.txt`` lists, per generation, how many ran, their total and longest pause, counted from
the last SIGUSR1 (the benchmark sends it when the load starts). ``gc-freeze``: the same, and
``gc.freeze()`` at that SIGUSR1 (an experiment for a change proposed, not made, in the node).
``memory``: tracemalloc from SIGUSR1 (before idle stations connect) to SIGUSR2 (after they have
settled); ``OUT.memory.txt`` lists the 40 source lines holding the most memory, then the 60
largest allocation sites by traceback.

cProfile sees only the thread that starts it, and the node does its database writes on a worker
thread that shares the GIL (and, pinned, the core) with the trio thread; yappi profiles both.
On exit (SIGTERM stops the node cleanly) it writes ``OUT.prof`` (pstats format, all threads
merged) and ``OUT.threads.txt`` (CPU seconds per thread). yappi is not a project dependency:
``pip install yappi`` into the virtualenv to use this.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent.parent))


def gc_pauses(out: Path, freeze: bool) -> int:
    import gc
    import signal
    import time

    from csms.cli import main as csms_main

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    def reset(signum: int, frame: object) -> None:  # the benchmark's "go": forget start-up
        for p in pauses.values():
            p.clear()
        if freeze:
            gc.freeze()  # what a node could do once started: start-up objects are never freed

    signal.signal(signal.SIGUSR1, reset)
    gc.callbacks.append(record)
    try:
        code = csms_main()
    finally:
        gc.callbacks.remove(record)
        out.with_suffix(".gc.txt").write_text(
            "".join(
                f"gen{g}: {len(p)} collections, total {1000 * sum(p):.1f} ms, "
                f"longest {1000 * max(p, default=0):.2f} ms\n"
                for g, p in pauses.items()
            )
            + f"objects tracked at exit: {len(gc.get_objects())}\n"
        )
    return int(code or 0)


def memory(out: Path) -> int:
    import gc
    import signal
    import tracemalloc

    from csms.cli import main as csms_main

    def start(signum: int, frame: object) -> None:
        gc.collect()
        tracemalloc.start(4)

    def snapshot(signum: int, frame: object) -> None:
        gc.collect()
        snap = tracemalloc.take_snapshot()
        total = sum(stat.size for stat in snap.statistics("filename"))
        lines = [f"traced since SIGUSR1: {total / 2**20:.1f} MiB\n"]
        for stat in snap.statistics("lineno")[:40]:
            frame_ = stat.traceback[0]
            lines.append(
                f"{stat.size / 1024:10.0f} KiB {stat.count:8d} blocks  "
                f"{frame_.filename.rpartition('site-packages/')[2]}:{frame_.lineno}\n"
            )
        lines.append("by traceback (4 frames, innermost first):\n")
        for stat in snap.statistics("traceback")[:60]:
            lines.append(f"{stat.size / 1024:10.0f} KiB {stat.count:8d} blocks\n")
            for frame_ in reversed(stat.traceback):
                name = frame_.filename.rpartition("site-packages/")[2]
                lines.append(f"{'':27}{name}:{frame_.lineno}\n")
        lines.append("by file:\n")
        for stat in snap.statistics("filename")[:30]:
            name = stat.traceback[0].filename.rpartition("site-packages/")[2]
            lines.append(f"{stat.size / 1024:10.0f} KiB {stat.count:8d} blocks  {name}\n")
        out.with_suffix(".memory.txt").write_text("".join(lines))
        tracemalloc.stop()

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, snapshot)
    return int(csms_main() or 0)


def main() -> int:
    mode, out = sys.argv[1], Path(sys.argv[2])
    sys.argv = ["csms", *sys.argv[3:]]
    if mode == "memory":
        return memory(out)
    if mode in ("gc", "gc-freeze"):
        return gc_pauses(out, freeze=mode == "gc-freeze")
    import yappi

    yappi.set_clock_type("cpu")
    yappi.start(builtins=True)
    from csms.cli import main as csms_main

    try:
        code = csms_main()
    finally:
        yappi.stop()
        yappi.get_func_stats().save(str(out), type="pstat")
        threads = sorted(yappi.get_thread_stats(), key=lambda t: -t.ttot)
        out.with_suffix(".threads.txt").write_text(
            "".join(f"{t.name:<24} id={t.id:<4} cpu={t.ttot:8.3f} s\n" for t in threads)
        )
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
