"""``celery -A ci_worker_mongodb worker``: ``ci_worker``'s app, results on MongoDB.

With ``ci_mongodb_standin`` in the config (address and auth key of the mongomock server
shared across processes, ``plugins/mongodb/tests/mongodb_remote.py``), ``pymongo.MongoClient``
is pointed at it before the app loads its backend; otherwise the URL names a real server.
"""

import json
import os
import sys
from pathlib import Path

from ci_app import make_app

config = json.loads(os.environ["RS_CI_CONFIG"])
if config.get("ci_mongodb_standin"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "mongodb" / "tests"))
    from mongodb_remote import attach

    host, port, key = config["ci_mongodb_standin"]
    attach((host, port), bytes.fromhex(key))

app = make_app(config)
