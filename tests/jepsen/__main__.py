"""``python -m tests.jepsen``: see `tests.jepsen.cli`."""

import sys

from tests.jepsen import cli

sys.exit(cli.main())
