"""``python -m tuning.cli``: the ``servetune`` command."""

import sys

from tuning.cli._app import main

sys.exit(main())
