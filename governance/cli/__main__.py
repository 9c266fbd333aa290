import sys

from governance.cli import main

sys.exit(main())
