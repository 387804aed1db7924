"""The review report (gaitsim.render.report, ``gaitsim report``): its content, its files, and
the page in a real headless Chromium (installed by scripts/env.sh)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gaitsim import spec
from gaitsim.catalogue import resolve_scenario
from gaitsim.metrics import summarize
from gaitsim.metrics.course import score_course
from gaitsim.render.report import (
    REFERENCE_SD_DEG,
    ReportInputError,
    ReviewRun,
    load_run,
    report_figures,
    write_report,
)
from gaitsim.sim.simulation import simulate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _run(label: str, scenario: str, duration_s: float) -> ReviewRun:
    d = spec.to_dict(spec.load(resolve_scenario(scenario)))
    d["run"]["duration_s"] = duration_s
    trace = simulate(spec.from_dict(d))
    return ReviewRun(label, trace, summarize(trace), score_course(trace))


@pytest.fixture(scope="module")
def runs() -> list[ReviewRun]:
    """A healthy walk and the start of the obstacle session, 4 s each."""
    return [
        _run("walk", "healthy-walk", 4.0),
        _run("course", "obstacle-avoidance-healthy", 4.0),
    ]


@pytest.fixture(scope="module")
def written(runs: list[ReviewRun], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report(runs, tmp_path_factory.mktemp("report"), title="two runs")


def test_every_figure_is_a_png_file_and_embedded_in_the_page(written: dict[str, Path]) -> None:
    assert list(written) == ["report", "gait_cycle", "energy", "course", "trend"]
    page = written["report"].read_text(encoding="utf-8")
    for name, path in written.items():
        if name == "report":
            continue
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'<figure id="{name}"><img' in page
    assert page.count("data:image/png;base64,") == 4
    assert "<script" not in page and "http" not in page  # self-contained
    assert sorted(p.name for p in written["report"].parent.iterdir()) == sorted(
        p.name for p in written.values()
    )  # no temporary files left


def test_tables_hold_each_runs_metrics_and_the_course_score(
    runs: list[ReviewRun], written: dict[str, Path]
) -> None:
    page = written["report"].read_text(encoding="utf-8")
    speed_row = re.search(r"<tr><td>speed \(m/s\)</td><td>([^<]*)</td><td>([^<]*)</td>", page)
    assert speed_row is not None
    for run, cell in zip(runs, speed_row.groups(), strict=True):
        assert cell == f"{run.summary.speed_m_s:.2f}"
    obstacles = runs[1].course["obstacles"]
    assert obstacles["judged"] > 0
    assert f"{obstacles['avoided']}/{obstacles['judged']}" in page
    assert f"+- {REFERENCE_SD_DEG:g} deg" in page


def test_one_run_has_no_trend_and_no_course_figure(runs: list[ReviewRun]) -> None:
    assert list(report_figures(runs[:1])) == ["gait_cycle", "energy"]


def test_a_folder_without_a_trace_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"no trace\.npz"):
        load_run(tmp_path)
    with pytest.raises(ValueError, match="at least one run"):
        write_report([], tmp_path)


def test_cli_report_of_two_run_folders(tmp_path: Path) -> None:
    """``gaitsim run --out`` writes the one-run report; ``gaitsim report A B --out`` the
    comparison; a missing folder exits 2 naming it and writes nothing."""
    scenario = tmp_path / "short.toml"
    scenario.write_text(
        '[run]\nduration_s = 2.0\noutputs = ["trace", "summary", "report"]\n', encoding="utf-8"
    )
    for name in ("a", "b"):
        done = _gaitsim("run", scenario, "--out", tmp_path / name)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name / "report.html").is_file()
    done = _gaitsim("report", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "ab")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "ab").iterdir()) == [
        "energy.png",
        "gait_cycle.png",
        "report.html",
        "trend.png",
    ]
    done = _gaitsim("report", tmp_path / "a", tmp_path / "nowhere", "--out", tmp_path / "bad")
    assert done.returncode == 2 and "nowhere: no trace.npz" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bad").exists()


def _gaitsim(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gaitsim.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_page_opens_in_headless_chromium_without_errors_and_shows_every_plot(
    written: dict[str, Path],
) -> None:
    if not (CHROMIUM and CHROMEDRIVER):
        message = "chromium and chromium-driver are needed (scripts/env.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(written["report"].resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.closest('figure').id, i.complete,"
            " i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width])"
        )
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        title = driver.title
    finally:
        driver.quit()
    assert title == "two runs"
    assert errors == []
    assert [i[0] for i in images] == ["gait_cycle", "energy", "course", "trend"]
    for name, complete, width, height, shown in images:
        assert complete and width > 100 and height > 100 and shown > 100, name
    png = written["gait_cycle"].read_bytes()
    assert np.frombuffer(png[16:24], ">u4").tolist() == [images[0][2], images[0][3]]


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_demo_writes_both_runs_the_comparison_video_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = _gaitsim("demo", "--out", out, "--duration", "3", "--width", "320", "--height", "200")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "no-device",
            "ankle-pushoff-late",
            "compare.mp4",
            "report.html",
            "gait_cycle.png",
            "energy.png",
            "course.png",
            "trend.png",
        ]
    ), names
    for run in ("no-device", "ankle-pushoff-late"):
        assert sorted(p.name for p in (out / run).iterdir()) == ["summary.json", "trace.npz"]
    iio = pytest.importorskip("imageio.v2")
    with iio.get_reader(out / "compare.mp4") as reader:
        assert reader.get_meta_data()["size"] == (320, 200)
        assert sum(1 for _ in reader) >= 90  # 3 s at 30 fps and the end hold
