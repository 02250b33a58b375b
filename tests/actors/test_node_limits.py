"""`csms serve` lifts the open-file limit: every station holds a socket."""

from __future__ import annotations

import json
import subprocess
import sys

# In a child process, whose limits start at soft 256 / hard 512 (lowering needs no privilege),
# so that the test process keeps its own and the result does not depend on the machine's.
_PROBE = """
import json, logging, resource, sys
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("csms.node").addHandler(Keep())
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))
from csms.node import raise_open_file_limit
got = raise_open_file_limit(int(sys.argv[1]))
soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
print(json.dumps({"got": got, "soft": soft, "log": records}))
"""


def _probe(max_connections: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(max_connections)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_soft_limit_is_raised_to_the_hard_limit():
    assert _probe(100) == {"got": 512, "soft": 512, "log": []}


def test_a_hard_limit_below_max_connections_is_named_in_a_warning():
    assert _probe(1000) == {
        "got": 512,
        "soft": 512,
        "log": ["open-file limit below what ocpp.max_connections needs"],
    }
