"""Gymnasium environments: every file in envs/ registered under its id on import.

``gymnasium.make("gaitsim/HipExoAssist-v0")`` works once ``gaitsim`` (or ``gaitsim.env``) is
imported. :class:`GaitEnv` is the environment; :mod:`gaitsim.env.config` the catalogue files.
"""

from __future__ import annotations

import gymnasium

from gaitsim.env.config import EnvConfig, EnvConfigError, catalogue_configs, load_env_config


def register_catalogue() -> list[str]:
    """Register every catalogue environment with Gymnasium (idempotent); returns the ids."""
    ids = []
    for stem, config in catalogue_configs():
        if config.id not in gymnasium.registry:
            gymnasium.register(
                id=config.id, entry_point="gaitsim.env.single:GaitEnv", kwargs={"config": stem}
            )
        ids.append(config.id)
    return ids


ENV_IDS = register_catalogue()

__all__ = ["ENV_IDS", "EnvConfig", "EnvConfigError", "load_env_config", "register_catalogue"]
