"""``celery -A ci_worker_cassandra worker``: ``ci_worker``'s app, results on Cassandra.

With ``ci_cassandra_standin`` in the config (address and auth key of the stand-in's shared
database process, ``plugins/cassandra/tests/cassandra_standin/remote.py``), the driver's
``Cluster`` is pointed at it before the app loads its backend; otherwise the URL names a real
server.
"""

import json
import os
import sys
from pathlib import Path

from ci_app import make_app

config = json.loads(os.environ["RS_CI_CONFIG"])
if config.get("ci_cassandra_standin"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "cassandra" / "tests"))
    from cassandra_standin.remote import attach

    host, port, key = config["ci_cassandra_standin"]
    attach((host, port), bytes.fromhex(key))

app = make_app(config)
