"""``python -m kerasport`` runs the command line."""

import sys

from kerasport.cli import main

sys.exit(main())
