"""gaitsim: a digital twin of robot-assisted gait rehabilitation.

Importing the package registers the environment catalogue (envs/) with Gymnasium, so
``gymnasium.make("gaitsim/HipExoAssist-v1")`` works after ``import gaitsim``; nothing else
happens on import.
"""

__version__ = "0.1.0"

from gaitsim import env as _env  # noqa: E402,F401  (registers the Gymnasium ids)
