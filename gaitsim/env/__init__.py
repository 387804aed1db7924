"""Gymnasium environments: every file in envs/ registered under its id on import.

``gymnasium.make("gaitsim/HipExoAssist-v1")`` works once ``gaitsim`` (or ``gaitsim.env``) is
imported. :class:`GaitEnv` is the environment; :mod:`gaitsim.env.config` the catalogue files.
"""

from __future__ import annotations

import warnings

import gymnasium

from gaitsim.env.config import EnvConfig, EnvConfigError, catalogue_configs, load_env_config


def register_catalogue() -> list[str]:
    """Register every catalogue environment with Gymnasium (idempotent); returns the ids.

    A file that does not validate is left out with a warning naming it and its error, so one
    bad file does not break ``import gaitsim`` (loading it by name raises the error).
    """
    ids = []
    for stem, config in catalogue_configs():
        if isinstance(config, EnvConfigError):
            warnings.warn(f"envs/{stem}.toml not registered: {config}", stacklevel=2)
            continue
        if config.id not in gymnasium.registry:
            gymnasium.register(
                id=config.id, entry_point="gaitsim.env.single:GaitEnv", kwargs={"config": stem}
            )
        ids.append(config.id)
    return ids


ENV_IDS = register_catalogue()

__all__ = ["ENV_IDS", "EnvConfig", "EnvConfigError", "load_env_config", "register_catalogue"]
