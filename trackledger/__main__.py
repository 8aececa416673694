import sys

from trackledger.cli import main

sys.exit(main())
