"""``python -m sofp.training``: the training CLI."""

import sys

from sofp.training.cli import main

sys.exit(main())
