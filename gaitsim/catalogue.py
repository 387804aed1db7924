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


class NotInCatalogue(FileNotFoundError):
    """A name that is neither a file nor in the catalogue; ``reason`` says what is allowed."""

    def __init__(self, name: str, catalogue: str, allowed: list[str]) -> None:
        self.reason = (
            f"no such file and not in {catalogue}/; allowed: {', '.join(allowed) or 'none'}"
        )
        super().__init__(f"{name!r}: {self.reason}")


def resolve(catalogue: str, name_or_path: str, suffix: str) -> Path:
    """A catalogue entry (``name`` or ``name<suffix>``) or a path to a file -> the file's path.

    A bare name (no ``/``) is looked up in the catalogue first, so a file or folder of the
    same name in the working directory does not shadow what a scenario means by it.

    Raises :class:`NotInCatalogue` (a FileNotFoundError) when neither matches.
    """
    folder = catalogue_dir(catalogue)
    if "/" not in name_or_path:
        for candidate in (folder / f"{name_or_path}{suffix}", folder / name_or_path):
            if candidate.is_file():
                return candidate
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise NotInCatalogue(name_or_path, catalogue, sorted(p.name for p in folder.glob(f"*{suffix}")))


def resolve_scenario(name_or_path: str) -> Path:
    """A catalogue scenario name or a path to a TOML file -> the file's path (:func:`resolve`)."""
    return resolve("scenarios", name_or_path, ".toml")
