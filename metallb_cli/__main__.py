"""`python3 -m metallb_cli`: the same as the `metallb-grpc` console script."""

import sys

from metallb_cli import run

sys.exit(run())
