"""The ``gaitsim`` command, run as a subprocess: bad input, the catalogue, run, model.

Runs use temporary scenarios of 0.2 s so the whole file stays fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gaitsim.sim.trace import Trace

ROOT = Path(__file__).parents[1]
BAD_FILES = sorted((ROOT / "tests" / "data" / "bad").glob("*.toml"))
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.toml"))
RUN_KEYS = {
    "scenario",
    "seed",
    "termination",
    "simulated_s",
    "trace",
    "metrics",
    "course",
    "versions",
}
SHORT = """\
description = "0.2 s test run"

[patient]
preset = "hemiparetic-mild-left"
height_m = 1.68

[controller]
kind = "constant"
excitation = 0.05

[run]
duration_s = 0.2
record_rate_hz = 200.0
"""


def gaitsim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gaitsim.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def expect_of(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ").strip()


@pytest.fixture(scope="module")
def short_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "short-walk.toml"
    path.write_text(SHORT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def seeded_runs(short_scenario: Path, tmp_path_factory: pytest.TempPathFactory):
    """The short scenario run twice with ``--seed 7 --json --out``: (result, out dir) each."""
    runs = []
    for i in range(2):
        out = tmp_path_factory.mktemp("runs") / f"out{i}"
        proc = gaitsim("run", short_scenario, "--seed", "7", "--json", "--out", out)
        assert proc.returncode == 0, proc.stderr
        runs.append((json.loads(proc.stdout), out))
    return runs


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_scenario_exits_2_with_the_field_and_writes_nothing(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = gaitsim("run", path, "--json", "--out", out)
    assert proc.returncode == 2, proc.stderr
    assert expect_of(path) in proc.stderr
    assert str(path) in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_scenario_for_model_writes_no_xml(tmp_path: Path) -> None:
    xml = tmp_path / "sub" / "model.xml"
    path = BAD_FILES[0]
    proc = gaitsim("model", path, "--xml", xml)
    assert proc.returncode == 2
    assert expect_of(path) in proc.stderr
    assert proc.stdout == ""
    assert not xml.parent.exists()


def test_unknown_scenario_name_lists_the_catalogue(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = gaitsim("run", "no-such-scenario", "--out", out)
    assert proc.returncode == 2
    assert "no-such-scenario" in proc.stderr
    for path in SCENARIO_FILES:
        assert path.stem in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()


def test_missing_toml_file_exits_2(tmp_path: Path) -> None:
    proc = gaitsim("run", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "nope.toml" in proc.stderr
    assert proc.stdout == "" and not (tmp_path / "out").exists()


def test_out_that_is_a_file_exits_2(short_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "a-file"
    out.write_text("keep me")
    proc = gaitsim("run", short_scenario, "--out", out)
    assert proc.returncode == 2
    assert "--out" in proc.stderr
    assert out.read_text() == "keep me"


def test_negative_seed_option_exits_2(short_scenario: Path, tmp_path: Path) -> None:
    proc = gaitsim("run", short_scenario, "--seed", "-1", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert "--seed" in proc.stderr
    assert proc.stdout == "" and not (tmp_path / "out").exists()


# --- the catalogue --------------------------------------------------------------------------


def test_scenarios_lists_every_file_with_its_description() -> None:
    proc = gaitsim("scenarios")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(SCENARIO_FILES) >= 4
    listed = {}
    for line in lines:
        name, _, description = line.partition("\t")
        listed[name] = description
    assert set(listed) == {p.stem for p in SCENARIO_FILES}
    for path in SCENARIO_FILES:
        description = tomllib.loads(path.read_text(encoding="utf-8"))["description"]
        assert description.strip()
        assert listed[path.stem] == description


# --- run ------------------------------------------------------------------------------------


def test_run_json_prints_one_object_and_writes_under_out(
    short_scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "deep" / "out"
    proc = gaitsim("run", short_scenario, "--json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    assert isinstance(result, dict)
    assert set(result) == RUN_KEYS
    assert proc.stdout.strip().count("\n") == 0
    assert "simulating" in proc.stderr  # progress goes to stderr
    assert result["scenario"] == "short-walk"
    assert result["seed"] == 0
    assert result["termination"]["reason"] in {"completed", "fall"}
    assert 0.0 < result["simulated_s"] <= 0.2 + 1e-9
    assert isinstance(result["metrics"], dict) and result["metrics"]
    assert {"gaitsim", "mujoco", "numpy", "python"} <= set(result["versions"])
    trace_path = Path(result["trace"])
    assert trace_path.is_file()
    assert trace_path.resolve().parent == out.resolve()
    summary = out / "summary.json"
    assert summary.is_file()
    assert json.loads(summary.read_text()) == result
    trace = Trace.load(trace_path)
    assert trace.meta["seed"] == 0
    assert trace.time_s[-1] == pytest.approx(result["simulated_s"])


def test_run_seed_option_is_used(seeded_runs) -> None:
    for result, out in seeded_runs:
        assert result["seed"] == 7
        assert Trace.load(out / "trace.npz").meta["seed"] == 7
        assert json.loads((out / "summary.json").read_text())["seed"] == 7


def test_same_scenario_and_seed_give_identical_traces(seeded_runs) -> None:
    (res_a, out_a), (res_b, out_b) = seeded_runs
    a, b = Trace.load(out_a / "trace.npz"), Trace.load(out_b / "trace.npz")
    assert len(a) > 10
    assert np.array_equal(a.time_s, b.time_s)
    assert set(a.channels) == set(b.channels) and len(a.channels) > 10
    for name in a.channels:
        assert np.array_equal(a[name], b[name]), name
    assert res_a["metrics"] == res_b["metrics"]
    assert res_a["termination"] == res_b["termination"]


def test_run_without_json_prints_a_table(short_scenario: Path) -> None:
    proc = gaitsim("run", short_scenario, "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    assert "short-walk" in proc.stdout and "seed 2" in proc.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)


# --- model ----------------------------------------------------------------------------------


def test_model_writes_loadable_mjcf(tmp_path: Path) -> None:
    import mujoco

    xml = tmp_path / "sub" / "default.xml"
    proc = gaitsim("model", "default", "--xml", xml)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    model = mujoco.MjModel.from_xml_path(str(xml))
    assert model.nu == 18


def test_tune_with_a_curriculum_writes_each_stage_and_the_result(tmp_path: Path):
    scenario = tmp_path / "t.toml"
    scenario.write_text(SHORT.replace('kind = "constant"', 'kind = "reflex"'), encoding="utf-8")
    out, work = tmp_path / "best.json", tmp_path / "work"
    proc = gaitsim(
        "tune", scenario, "--curriculum", "2", "--generations", "1", "--population", "4",
        "--duration", "0.5", "--out", out, "--work-dir", work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (work / "stage-1" / "best.json").is_file() and out.is_file()
    assert "tuned t: 2 generations" in proc.stdout


def test_tune_planner_refuses_a_scenario_without_a_course_and_writes_nothing(tmp_path: Path):
    work = tmp_path / "work"
    proc = gaitsim("tune", "healthy-walk", "--planner", "--work-dir", work)
    assert proc.returncode == 2 and "no course to tune on" in proc.stderr
    assert not (work / "planner.toml").exists()
    out = tmp_path / "on-course.json"
    proc = gaitsim("tune", "healthy-walk", "--on-course", "--work-dir", work, "--out", out)
    assert proc.returncode == 2 and "no course to tune on" in proc.stderr
    assert not out.exists() and not (work / "course-log.csv").exists()


def test_tune_refuses_an_option_of_the_other_mode_by_its_flag(tmp_path: Path):
    work = tmp_path / "work"
    proc = gaitsim(
        "tune", "curb-up-healthy", "--planner", "--target-speed", "1", "--work-dir", work
    )
    assert proc.returncode == 2 and "--target-speed: not an option of --planner" in proc.stderr
    proc = gaitsim("tune", "healthy-walk", "--seeds", "4", "--work-dir", work)
    assert proc.returncode == 2 and "--seeds: not an option of the reflex tuning" in proc.stderr
    proc = gaitsim("tune", "curb-up-healthy", "--on-course", "--duration", "5")
    assert proc.returncode == 2 and "--duration: not an option of --on-course" in proc.stderr
    proc = gaitsim("tune", "curb-up-healthy", "--on-course", "--planner")
    assert proc.returncode == 2 and "--planner, --on-course: choose one" in proc.stderr
    proc = gaitsim("tune", "curb-up-healthy", "--planner", "--gains", "c0")
    assert proc.returncode == 2 and "--gains: not an option of --planner" in proc.stderr
    proc = gaitsim(
        "tune", "curb-up-healthy", "--on-course", "--gains", "c0,HAM9", "--work-dir", work
    )
    assert proc.returncode == 2 and "gains: HAM9: not reflex gains; allowed:" in proc.stderr
    assert not (work / "planner.toml").exists() and not (work / "log.csv").exists()


def test_compare_refuses_a_scenario_without_a_device_and_unknown_controllers(tmp_path):
    result = gaitsim("compare", "default")
    assert result.returncode == 2 and "nothing to compare" in result.stderr
    scenario = tmp_path / "exo.toml"
    scenario.write_text(
        '[device]\nkind = "exoskeleton"\n[[device.modules]]\njoint = "hip"\n', encoding="utf-8"
    )
    result = gaitsim("compare", scenario, "--controllers", "nope")
    assert result.returncode == 2 and "--controllers" in result.stderr


def test_a_bad_device_controller_configuration_exits_2_naming_scenario_and_field(tmp_path):
    scenario = tmp_path / "exo.toml"
    scenario.write_text(
        '[device]\nkind = "exoskeleton"\ncontroller = "tests/data/bad_controller.toml"\n'
        '[[device.modules]]\njoint = "hip"\n',
        encoding="utf-8",
    )
    result = gaitsim("run", scenario, "--json")
    assert result.returncode == 2
    assert str(scenario) in result.stderr and "device.controller" in result.stderr
    assert "friction_compensation" in result.stderr and result.stdout == ""


def test_controller_settings_are_checked_against_the_controllers_family(tmp_path):
    scenario = tmp_path / "exo.toml"
    scenario.write_text(
        '[device]\nkind = "exoskeleton"\ncontroller = "guidance-impedance"\n'
        "controller_settings = { guidance = 2.0 }\n"
        '[[device.modules]]\njoint = "hip"\n',
        encoding="utf-8",
    )
    result = gaitsim("run", scenario, "--json")
    assert result.returncode == 2
    assert "device.controller" in result.stderr and "guidance" in result.stderr


def test_run_prints_the_course_score_and_cues(tmp_path: Path) -> None:
    scenario = tmp_path / "course.toml"
    scenario.write_text(
        '[patient]\npreset = "healthy"\n[controller]\nkind = "reflex"\n'
        'parameters = "healthy.json"\n[course]\nkind = "treadmill"\nbelt_speed_m_s = 1.2\n'
        '[[course.elements]]\nkind = "obstacle"\nat_m = 3.0\nlength_m = 0.3\n'
        "response_time_s = 1.0\n[run]\nduration_s = 4.0\n",
        encoding="utf-8",
    )
    proc = gaitsim("run", scenario, "--cues")
    assert proc.returncode == 0, proc.stderr
    assert "obstacles" in proc.stdout and "session score" in proc.stdout
    assert "obstacle in" in proc.stdout  # the cue of the obstacle's appearance
    result = json.loads(gaitsim("run", scenario, "--json").stdout)
    assert result["course"]["obstacles"]["n"] == 1
