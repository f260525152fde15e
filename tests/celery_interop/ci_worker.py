"""``celery -A ci_worker worker``: the app configured from ``RS_CI_CONFIG`` (JSON)."""

import json
import os

from ci_app import make_app

app = make_app(json.loads(os.environ["RS_CI_CONFIG"]))
