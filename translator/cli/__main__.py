import sys

from translator.cli.main import main

sys.exit(main())
