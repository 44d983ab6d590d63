"""CNN Lab's core: datasets, convolution arithmetic, model specs, training and evaluation.

Importing the package is cheap: torch is imported only by the modules that need it.
"""

__version__ = "0.1.0"
