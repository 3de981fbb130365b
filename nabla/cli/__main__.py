"""``python -m nabla.cli ...`` is the ``nabla`` command."""
import sys

from . import main

sys.exit(main())
