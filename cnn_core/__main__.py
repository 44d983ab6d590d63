import sys

from cnn_core.cli import main

sys.exit(main())
