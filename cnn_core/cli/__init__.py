"""The command line, `python -m cnn_core …`: main.py parses and dispatches, commands.py holds data / summary /
train / evaluate, experiments.py holds experiment / sweep, options.py and data_options.py make options from the
config dataclasses."""
