"""The one resolver for the shipped catalogues (assets/models, scenarios, controllers, envs).

Installed from a wheel, the catalogues live in ``gaitsim/_catalogue/``; run from a checkout
(or an editable install) they are the repository's top-level folders.
"""

from __future__ import annotations

from pathlib import Path

CATALOGUES = ("assets/models", "scenarios", "controllers", "envs")

_PACKAGE_DIR = Path(__file__).resolve().parent


def catalogue_dir(name: str) -> Path:
    """Return the folder of catalogue ``name`` (one of ``CATALOGUES``)."""
    if name not in CATALOGUES:
        raise ValueError(f"unknown catalogue {name!r}; allowed: {', '.join(CATALOGUES)}")
    installed = _PACKAGE_DIR / "_catalogue" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"catalogue {name!r} not found in {installed} or {checkout}")


def scenario_names() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in catalogue_dir("scenarios").glob("*.toml"))


def resolve_scenario(name_or_path: str) -> Path:
    """A catalogue scenario name or a path to a TOML file -> the file's path.

    A bare name is looked up in the catalogue first, so a folder of the same name in the
    working directory does not shadow it.

    Raises FileNotFoundError naming the catalogue's scenarios when neither matches.
    """
    candidate = catalogue_dir("scenarios") / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and candidate.is_file():
        return candidate
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise FileNotFoundError(
        f"scenario {name_or_path!r}: no such file and not in the catalogue "
        f"(available: {', '.join(scenario_names())})"
    )
