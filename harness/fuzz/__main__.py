import sys

from harness.fuzz import main

sys.exit(main())
