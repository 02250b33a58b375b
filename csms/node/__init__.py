"""The composition root: which actors a node runs, what each is given, and the REST API's
``ControlPlane`` over them. The one package that imports both ``csms.actors`` and ``csms.api``
(tests/test_layering.py).

::

    node (rest_for_one)
    ├── persistence     permanent   the PostgreSQL writer (group commit)
    ├── stations        dynamic     one temporary station actor per connected charge point
    ├── ...             extra children (``extra_children``: capabilities)
    ├── http_control    permanent   the REST API (``http=True``), over a NodeControlPlane
    ├── ocpp_listener   permanent   accepts WebSocket connections, starts station actors
    └── id_tokens       permanent   LISTENs for id-token changes, keeps the id-token cache true

``rest_for_one``: a restarted persistence actor also restarts what was started after it, so
nothing keeps talking to a writer that is gone. The id-token listener comes last, so that
nothing else is restarted with it (the cache is bypassed while it is down). The database
(embedded or not) is set up and migrated before the tree starts and stopped after it.
"""

from csms.node._build import build_node, database, http_control_child, open_node
from csms.node._capabilities import ChildFactory, RouteFactory, capabilities
from csms.node._control_plane import NodeControlPlane
from csms.node._firmware import NodeFirmware
from csms.node._prices import NodePrices
from csms.node._serve import raise_open_file_limit, serve, tune_garbage_collector
from csms.node._v2g import NodeV2G

__all__ = [
    "ChildFactory",
    "NodeControlPlane",
    "NodeFirmware",
    "NodePrices",
    "NodeV2G",
    "RouteFactory",
    "build_node",
    "capabilities",
    "database",
    "http_control_child",
    "open_node",
    "raise_open_file_limit",
    "serve",
    "tune_garbage_collector",
]
