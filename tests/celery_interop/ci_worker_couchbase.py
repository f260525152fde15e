"""``celery -A ci_worker_couchbase worker``: ``ci_worker``'s app, results on Couchbase.

With ``ci_couchbase_fake`` in the config (address and auth key of the stand-in's shared
document process, ``plugins/couchbase/tests/couchbase_fake/remote.py``), the SDK's ``Cluster``
is pointed at it before the app loads its backend; otherwise the URL names a real server.
"""

import json
import os
import sys
from pathlib import Path

from ci_app import make_app

config = json.loads(os.environ["RS_CI_CONFIG"])
if config.get("ci_couchbase_fake"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "couchbase" / "tests"))
    from couchbase_fake.remote import attach

    host, port, key = config["ci_couchbase_fake"]
    attach((host, port), bytes.fromhex(key))

app = make_app(config)
