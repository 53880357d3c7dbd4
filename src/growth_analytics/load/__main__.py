"""``python -m growth_analytics.load PATH...``: the same as ``growth load``."""

import sys

from growth_analytics.load.cli import main

sys.exit(main())
