"""``python -m resultstore.cli`` runs the ``resultstore`` command."""

import sys

from . import main

sys.exit(main())
