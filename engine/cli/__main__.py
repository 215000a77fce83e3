"""``python -m engine.cli``: the ``tandem`` command."""

import sys

from engine.cli.main import main

sys.exit(main())
