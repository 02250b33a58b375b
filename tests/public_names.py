"""The public names of a package, derived from the package itself (as httpx's test of its
exported members): every public attribute that is not a submodule is in ``__all__``, and
``__all__`` names nothing else."""

from __future__ import annotations

import inspect
import types


def exported(module: types.ModuleType) -> list[str]:
    """``module.__all__``, sorted, after checking it against the module's attributes."""
    public = sorted(
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    )
    names = sorted(module.__all__)
    assert names == public, f"{module.__name__}: __all__ differs from its public attributes"
    for name in names:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith(module.__name__ + "."), (
                f"{module.__name__}.{name} comes from {value.__module__}"
            )
    return names
