import sys

from deploy.crdgen import main

sys.exit(main())
