"""python -m groundcontrol: the same as the groundcontrol command."""

import sys

from groundcontrol.cli.main import main

sys.exit(main())
