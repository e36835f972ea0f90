import sys

import bench.quiet  # noqa: F401  (before any library logs: see its docstring)
from bench.cli import main

sys.exit(main())
