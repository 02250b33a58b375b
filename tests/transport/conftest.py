from __future__ import annotations

import pytest

from .helpers import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates generated once per run, in a temporary directory."""
    return make_pki(tmp_path_factory.mktemp("pki"))
