"""requirements.lock is current.

It pins, with `==`, every dependency named in pyproject.toml (runtime and the `dev` extra)
at a version pyproject allows, and everything those need in turn; and the environment the
suite runs in has exactly the locked versions installed. `make lock` regenerates the lock.
"""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
EXTRAS = ("dev",)  # what `make run` / `make test` install: `.[dev]`

# name -> (installed version, its requirements), or None when it is not installed.
Installed = Callable[[str], tuple[Version, list[Requirement]] | None]


def parse_lock(text: str) -> tuple[dict[str, Version], list[str]]:
    """The lock's pins by PEP 503 name, and what is wrong with its lines."""
    pins: dict[str, Version] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            problems.append(f"line {number}: not a requirement: {raw!r}")
            continue
        specs = list(req.specifier)
        if (
            req.url
            or req.extras
            or req.marker
            or len(specs) != 1
            or specs[0].operator != "=="
            or specs[0].version.endswith(".*")
        ):
            problems.append(f"line {number}: not a plain `name==version` pin: {raw!r}")
            continue
        name = canonicalize_name(req.name)
        if name in pins:
            problems.append(f"line {number}: {name} is pinned twice")
            continue
        pins[name] = Version(specs[0].version)
    return pins, problems


def project_requirements(pyproject: dict) -> list[Requirement]:
    """What pyproject.toml asks for: the runtime dependencies and the extras installed."""
    project = pyproject["project"]
    names = list(project["dependencies"])
    for extra in EXTRAS:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


def applies(req: Requirement, extra: str = "") -> bool:
    return req.marker is None or req.marker.evaluate({"extra": extra})


def check_pyproject(requirements: Iterable[Requirement], pins: dict[str, Version]) -> list[str]:
    """Each dependency pyproject names is pinned, at a version its specifier allows."""
    problems = []
    for req in requirements:
        if not applies(req):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req} is in pyproject.toml but not pinned in the lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"the lock pins {name}=={pins[name]}, outside pyproject's {req}")
    return problems


def check_environment(
    requirements: Iterable[Requirement], pins: dict[str, Version], installed: Installed
) -> list[str]:
    """Every locked package is installed at its pin, and every package that pyproject's
    requirements pull in (with their extras, transitively) is locked."""
    problems = []
    for name, pin in pins.items():
        found = installed(name)
        if found is None:
            problems.append(f"{name}=={pin} is locked but not installed")
        elif found[0] != pin:
            problems.append(f"{name} {found[0]} is installed, the lock pins {pin}")
    seen: set[tuple[str, str]] = set()
    todo = [(req, "pyproject.toml") for req in requirements if applies(req)]
    while todo:
        req, needed_by = todo.pop()
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{name} (needed by {needed_by}) is not pinned in the lock")
        found = installed(name)
        if found is None:
            continue
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            todo += [(dep, name) for dep in found[1] if applies(dep, extra)]
    return problems


def installed_here(name: str) -> tuple[Version, list[Requirement]] | None:
    """What the running interpreter has installed under `name`."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    return Version(dist.version), [Requirement(r) for r in dist.requires or ()]


def lock_script_header() -> str:
    spec = importlib.util.spec_from_file_location("lock_script", ROOT / "scripts" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HEADER


@pytest.fixture(scope="module")
def lock_text() -> str:
    return LOCK.read_text()


@pytest.fixture(scope="module")
def pins(lock_text: str) -> dict[str, Version]:
    return parse_lock(lock_text)[0]


@pytest.fixture(scope="module")
def requirements() -> list[Requirement]:
    return project_requirements(tomllib.loads(PYPROJECT.read_text()))


# --- the committed lock --------------------------------------------------------------------


def test_lock_lines_are_plain_pins_each_name_once(lock_text):
    assert parse_lock(lock_text)[1] == []


def test_lock_is_generated_by_the_script_and_sorted(lock_text, pins):
    assert lock_text.startswith(lock_script_header())
    assert list(pins) == sorted(pins)


def test_lock_pins_every_pyproject_dependency_within_its_specifier(pins, requirements):
    assert len(requirements) >= 20  # the runtime dependencies and the dev extra were read
    assert check_pyproject(requirements, pins) == []


def test_lock_pins_packaging_which_this_test_uses(pins):
    assert pins["packaging"] == Version(metadata.version("packaging"))


def test_running_environment_is_the_locked_one(pins, requirements):
    assert check_environment(requirements, pins, installed_here) == []


# --- the checks above can fail -------------------------------------------------------------

GOOD_LOCK = "# header\ntrio==0.35.0\noutcome==1.3.0.post0  # inline comment\n"
TRIO = [Requirement("trio>=0.25")]


def fake_installed(
    versions: dict[str, str], requires: dict[str, list[str]] | None = None
) -> Installed:
    def installed(name: str) -> tuple[Version, list[Requirement]] | None:
        if name not in versions:
            return None
        deps = (requires or {}).get(name, [])
        return Version(versions[name]), [Requirement(dep) for dep in deps]

    return installed


def test_parse_lock_reads_plain_pins():
    pins, problems = parse_lock(GOOD_LOCK)
    assert problems == []
    assert pins == {"trio": Version("0.35.0"), "outcome": Version("1.3.0.post0")}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("PyYAML==6.0.4\npyyaml==6.0.4\n", "pyyaml is pinned twice"),
        ("typing_extensions==4.16.0\ntyping-extensions==4.15.0\n", "pinned twice"),
        ("trio>=0.25\n", "not a plain"),
        ("trio\n", "not a plain"),
        ("trio==0.*\n", "not a plain"),
        ("trio===0.35.0\n", "not a plain"),
        ("psycopg[binary]==3.3.9\n", "not a plain"),
        ("trio==0.35.0; python_version < '3.12'\n", "not a plain"),
        ("csms @ file:///srv/csms\n", "not a plain"),
        ("-e .\n", "not a requirement"),
    ],
)
def test_parse_lock_rejects(text, problem):
    _, problems = parse_lock(text)
    assert len(problems) == 1
    assert problem in problems[0]


def test_check_pyproject_flags_a_missing_pin():
    problems = check_pyproject([*TRIO, Requirement("attrs>=23.2")], {"trio": Version("0.35.0")})
    assert problems == ["attrs>=23.2 is in pyproject.toml but not pinned in the lock"]


def test_check_pyproject_flags_a_pin_outside_the_specifier():
    problems = check_pyproject(TRIO, {"trio": Version("0.24.0")})
    assert problems == ["the lock pins trio==0.24.0, outside pyproject's trio>=0.25"]


def test_check_pyproject_matches_names_per_pep_503():
    pins = {"trio-websocket": Version("0.12.2")}
    assert check_pyproject([Requirement("Trio_WebSocket>=0.11")], pins) == []


def test_check_environment_flags_drift_from_the_lock():
    pins = {"trio": Version("0.35.0")}
    problems = check_environment(TRIO, pins, fake_installed({"trio": "0.34.0"}))
    assert problems == ["trio 0.34.0 is installed, the lock pins 0.35.0"]


def test_check_environment_flags_a_locked_package_not_installed():
    pins = {"trio": Version("0.35.0"), "outcome": Version("1.3.0")}
    problems = check_environment(TRIO, pins, fake_installed({"trio": "0.35.0"}))
    assert problems == ["outcome==1.3.0 is locked but not installed"]


def test_check_environment_flags_an_unlocked_transitive_dependency():
    installed = fake_installed(
        {"trio": "0.35.0", "outcome": "1.3.0", "attrs": "26.1.0"},
        {"trio": ["outcome", "sniffio; python_version < '3'"], "outcome": ["attrs>=19"]},
    )
    pins = {"trio": Version("0.35.0"), "outcome": Version("1.3.0")}
    assert check_environment(TRIO, pins, installed) == [
        "attrs (needed by outcome) is not pinned in the lock"
    ]


def test_check_environment_follows_requested_extras_only():
    installed = fake_installed(
        {"psycopg": "3.3.9", "psycopg-binary": "3.3.9"},
        {"psycopg": ['psycopg-binary==3.3.9; extra == "binary"', 'psycopg-c; extra == "c"']},
    )
    pins = {"psycopg": Version("3.3.9")}
    assert check_environment([Requirement("psycopg>=3.1")], pins, installed) == []
    assert check_environment([Requirement("psycopg[binary]>=3.1")], pins, installed) == [
        "psycopg-binary (needed by psycopg) is not pinned in the lock"
    ]
