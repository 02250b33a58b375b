"""V2G optimizer benchmark: planning time for 10,000 EVs over a 24-hour forecast, beside a floor
measured in the same run.

    python scripts/bench/v2g_optimizer.py [--evs N] [--repeat R] [--json FILE]

The forecast is the shipped Tarifa Branca's (CEMIG, regulated source, the simulated PLD) from a
working day's 16:10 in Sao Paulo, as the prices actor answers it. The fleet is seeded random:
SoC 20-95 %, batteries 40-100 kWh (one in five unknown, offering its V2X energy instead),
owners' floors 20-50 %, 3-11 kW, one of six window sets (none, evenings, weekdays, split
windows...), a departure energy and time for half of them, 1-3 cycles a day. Timed: the whole
``plan_fleet`` call (the planner's shared set-up included), one core, the median of ``repeat``
runs. Floor: sorting the 24-hour forecast by price 10,000 times (what each EV would cost if it
only ranked the hours itself). Target: under 1 s for 10,000 EVs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import random
import statistics
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

from csms.services.grid_price_book import GridPriceBook, MarketQuery
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.services.v2g_optimizer import EVState, plan_fleet, price_hours
from csms.services.v2g_preferences import DischargeWindow, V2GPreferences

TZ = ZoneInfo("America/Sao_Paulo")
NOW = dt.datetime(2026, 3, 3, 19, 10, tzinfo=dt.UTC)  # Tuesday 16:10 local
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
WINDOWS = (
    (),
    (DischargeWindow(EVERY_DAY, dt.time(17), dt.time(21)),),
    (DischargeWindow(WEEKDAYS, dt.time(16), dt.time(22)),),
    (
        DischargeWindow(WEEKDAYS, dt.time(17, 30), dt.time(19)),
        DischargeWindow(WEEKDAYS, dt.time(19, 30), dt.time(21)),
    ),
    (DischargeWindow(EVERY_DAY, dt.time(22), dt.time(6)),),
    (DischargeWindow(frozenset({1, 3}), dt.time(0), dt.time(0)),),
)


def fleet(n: int, seed: int = 15) -> list[tuple[EVState, V2GPreferences]]:
    rng = random.Random(seed)
    evs = []
    for i in range(n):
        known = rng.random() < 0.8
        battery = Decimal(rng.randrange(40, 101)) * 1000
        soc = Decimal(rng.randrange(20, 96))
        departs = rng.random() < 0.5
        prefs = V2GPreferences(
            user_id=f"u{i}",
            opt_in=True,
            min_soc_percent=Decimal(rng.randrange(20, 51)),
            max_discharge_w=Decimal(rng.randrange(3, 12)) * 1000,
            windows=rng.choice(WINDOWS),
            max_cycles_per_day=rng.randrange(1, 4),
            departure_energy_wh=Decimal(rng.randrange(5, 30)) * 1000 if departs and known else None,
            departure_time=dt.time(rng.randrange(6, 10), 30) if departs else None,
        )
        ev = EVState(
            station_id=f"CP{i // 2:05d}",
            evse_id=1 + i % 2,
            user_id=prefs.user_id,
            soc_percent=soc,
            battery_wh=battery if known else None,
            max_discharge_w=Decimal(rng.choice((7400, 11000, 22000))),
            v2x_energy_wh=None if known else (soc - 10) * battery / 100,
            cycles_today=rng.randrange(0, 2),
        )
        evs.append((ev, prefs))
    return evs


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        runs.append(time.process_time() - start)
    return statistics.median(runs), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()

    book = GridPriceBook(parse_grid_price_settings({}), TZ)
    hours = price_hours(book.forecast(MarketQuery(), NOW, 24))
    evs = fleet(args.evs)
    plans = plan_fleet(evs, hours, NOW, TZ)
    planned = [p for p in plans if p.intervals]
    plan_s, plan_runs = timed(lambda: plan_fleet(evs, hours, NOW, TZ), args.repeat)
    floor_s, floor_runs = timed(
        lambda: [sorted(hours, key=lambda h: (-h.rs_per_kwh, h.start)) for _ in evs],
        args.repeat,
    )
    result = {
        "evs": args.evs,
        "forecast_hours": len(hours),
        "planned_evs": len(planned),
        "planned_intervals": sum(len(p.intervals) for p in planned),
        "planned_mwh": float(sum(p.energy_wh for p in plans) / 1_000_000),
        "plan_s": round(plan_s, 4),
        "plan_runs_s": [round(r, 4) for r in plan_runs],
        "plan_us_per_ev": round(plan_s / args.evs * 1e6, 1),
        "floor_sort_s": round(floor_s, 4),
        "floor_runs_s": [round(r, 4) for r in floor_runs],
        "ratio_to_floor": round(plan_s / floor_s, 2),
        "target_met": plan_s < 1.0,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    reasons: dict[str, int] = {}
    for p in plans:
        key = p.reason or "planned"
        reasons[key] = reasons.get(key, 0) + 1
    result["outcomes"] = reasons
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
