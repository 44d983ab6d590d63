import gc
import sys

from cnn_core.cli.main import main

status = main()
# The command is done: the interpreter's exit still frees every object and runs every exit handler, but its last
# garbage collections needn't search PyTorch's hundred thousand objects for cycles (0.2 s of each CLI call's ~2 s).
gc.freeze()
sys.exit(status)
