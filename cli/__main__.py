"""``python -m cli``: the ``sincro`` command."""

import sys

from cli.main import main

sys.exit(main())
