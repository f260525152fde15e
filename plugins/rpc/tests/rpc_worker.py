"""``celery -A rpc_worker worker``: the app configured from ``RS_RPC_CONFIG`` (JSON)."""

import json
import os

from rpc_tasks import make_app

app = make_app(json.loads(os.environ["RS_RPC_CONFIG"]), name="rpc_worker")
