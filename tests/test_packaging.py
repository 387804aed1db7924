"""The wheel carries the one import root and the catalogues inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob("gaitsim-*.whl")
    return path


def test_wheel_ships_the_catalogues_inside_gaitsim(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"gaitsim", next(t for t in tops if t.endswith(".dist-info"))}
    for catalogue in ("assets/models", "scenarios", "controllers", "envs"):
        shipped = [n for n in names if n.startswith(f"gaitsim/_catalogue/{catalogue}/")]
        local = [p for p in (ROOT / catalogue).rglob("*") if p.is_file()]
        assert len(shipped) == len(local) > 0, catalogue
    assert "gaitsim/_catalogue/scenarios/default.toml" in names
    assert "gaitsim/py.typed" in names


def test_installed_wheel_finds_its_catalogues_not_the_checkout(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import gaitsim.catalogue as c; d = c.catalogue_dir('scenarios'); "
        "print(d); print(','.join(c.scenario_names()))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    folder, names = res.stdout.splitlines()
    assert Path(folder).is_relative_to(tmp_path / "gaitsim" / "_catalogue")
    assert "default" in names.split(",")
