"""gaitsim: a digital twin of robot-assisted gait rehabilitation.

Importing the package has no side effects beyond defining names.
"""

__version__ = "0.1.0"
