"""The runtime's public names are a contract: adding or removing one is a deliberate change."""

import csms.runtime
from csms.runtime import (
    ActorCrashed,
    ActorError,
    ActorStopped,
    AskTimeout,
    MailboxFull,
    NameTaken,
    Rejected,
    RestartIntensityExceeded,
    StartupFailed,
)


def test_public_names_are_pinned():
    assert sorted(csms.runtime.__all__) == [
        "Actor",
        "ActorContext",
        "ActorCrashed",
        "ActorError",
        "ActorRef",
        "ActorStopped",
        "AskTimeout",
        "AsyncioThread",
        "Backoff",
        "ChildSpec",
        "ChildStats",
        "DynamicSupervisor",
        "MailboxFull",
        "NameTaken",
        "Registry",
        "Rejected",
        "Reply",
        "RestartIntensity",
        "RestartIntensityExceeded",
        "RestartType",
        "StartupFailed",
        "Strategy",
        "Supervisor",
        "WorkerThreads",
        "collect_stats",
    ]
    for name in csms.runtime.__all__:
        assert getattr(csms.runtime, name).__module__.startswith("csms.runtime")


def test_exceptions_subclass_the_matching_builtins():
    for exc in (
        ActorCrashed,
        ActorStopped,
        AskTimeout,
        MailboxFull,
        NameTaken,
        Rejected,
        RestartIntensityExceeded,
        StartupFailed,
    ):
        assert issubclass(exc, ActorError)
    assert issubclass(Rejected, ValueError)
    assert issubclass(AskTimeout, TimeoutError)
    assert issubclass(NameTaken, KeyError)


def test_runtime_imports_nothing_of_ours():
    import ast
    import pathlib

    package = pathlib.Path(csms.runtime.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("csms"), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("csms") for a in node.names), path.name
