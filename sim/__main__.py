"""``python -m sim`` is the ``vitsim`` command."""

import sys

from sim.cli import main

sys.exit(main())
