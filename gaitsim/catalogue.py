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

    Raises FileNotFoundError naming the catalogue's scenarios when neither matches.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"scenario file {str(path)!r} does not exist")
        return path
    candidate = catalogue_dir("scenarios") / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(
        f"unknown scenario {name_or_path!r}: not a file and not in the catalogue "
        f"(available: {', '.join(scenario_names())})"
    )
