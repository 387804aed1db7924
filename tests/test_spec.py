"""Scenario schema: presets, overrides, mirroring, immutability, the catalogue and bad files.

Each file in ``tests/data/bad/`` is one kind of bad scenario. Its header says what the error
message must contain::

    # expect: <field path>          (first line, required)
    # value: <repr of the bad value> (optional: message contains "<field path> = <value>")
    # allowed: <text>               (optional: message contains "allowed" and this text)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from gaitsim import catalogue, spec
from gaitsim.constants import MUSCLES
from gaitsim.presets import PRESETS, SIDED_FIELDS, mirror, preset_dict
from gaitsim.spec import Patient, Scenario, ScenarioError

BAD_DIR = Path(__file__).parent / "data" / "bad"
BAD_FILES = sorted(BAD_DIR.glob("*.toml"))
SIDED = ("strength", "spasticity", "contracture", "passive_stiffness_nm_rad", "descending_drive")
LEVELS = ("mild", "moderate", "severe")
# Bad files whose error has no field value or allowed set (a TOML syntax error has a line)
NO_ALLOWED = {"invalid_toml.toml"}


def bad_header(path: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a bad scenario file."""
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("#").strip().partition(":")
        if sep:
            header[key.strip()] = value.strip()
    return header


def patient(**fields: object) -> Patient:
    return spec.from_dict({"patient": fields}).patient


# --- presets and overrides ------------------------------------------------------------------


def test_preset_override_keeps_the_rest_of_the_preset() -> None:
    p = patient(preset="hemiparetic-moderate-left", height_m=1.62)
    base = patient(preset="hemiparetic-moderate-left")
    assert p.height_m == 1.62
    assert base.height_m != 1.62
    assert p.preset == "hemiparetic-moderate-left"
    assert p.condition == "hemiparetic" and p.paretic_side == "left"
    assert p.strength == base.strength
    assert p.strength_of("sol", "left") == pytest.approx(0.6)
    assert p.strength_of("sol", "right") == 1.0
    assert p.spasticity == base.spasticity
    assert p.contracture == base.contracture
    assert p.descending_drive == base.descending_drive
    assert p.model_dump(exclude={"height_m"}) == base.model_dump(exclude={"height_m"})


def test_inline_table_preset_from_toml(tmp_path: Path) -> None:
    """The issue's own syntax: ``patient = { preset = ..., height_m = 1.62 }``."""
    path = tmp_path / "inline.toml"
    path.write_text('patient = { preset = "hemiparetic-moderate-left", height_m = 1.62 }\n')
    scenario = spec.load(path)
    assert scenario.name == "inline"
    assert scenario.patient.height_m == 1.62
    assert scenario.patient.strength_of("gas", "left") == pytest.approx(0.6)


def test_override_of_a_preset_field_wins() -> None:
    p = patient(preset="hemiparetic-severe-left", severity=0.5, paretic_side="left")
    assert p.severity == 0.5
    assert p.strength_of("ta", "left") == pytest.approx(0.4)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_as_given(name: str) -> None:
    p = patient(preset=name)
    assert p.model_dump() == Patient.model_validate(preset_dict(name)).model_dump()
    assert p.preset == name


@pytest.mark.parametrize("level", LEVELS)
def test_right_presets_mirror_left(level: str) -> None:
    left = patient(preset=f"hemiparetic-{level}-left")
    right = patient(preset=f"hemiparetic-{level}-right")
    assert (left.paretic_side, right.paretic_side) == ("left", "right")
    assert (left.condition, left.severity) == (right.condition, right.severity)
    assert (left.height_m, left.mass_kg) == (right.height_m, right.mass_kg)
    for field in SIDED:
        lmap, rmap = getattr(left, field), getattr(right, field)
        assert lmap, f"{field} of the left preset is empty: mirroring would be vacuous"
        assert set(lmap) == {"left"} and set(rmap) == {"right"}, field
        assert rmap["right"] == lmap["left"], field
    for m in MUSCLES:
        assert left.strength_of(m, "left") == right.strength_of(m, "right") < 1.0
        assert left.strength_of(m, "right") == right.strength_of(m, "left") == 1.0
        assert left.contracture_of(m, "left") == right.contracture_of(m, "right")
    for joint in ("hip", "knee", "ankle"):
        assert left.extra_stiffness_of(joint, "left") == right.extra_stiffness_of(joint, "right")


def test_mirror_exchanges_every_per_side_field() -> None:
    """Every mapping field of Patient is keyed by side, and mirroring moves all of them."""
    mapping_fields = {n for n in Patient.model_fields if isinstance(getattr(Patient(), n), Mapping)}
    assert set(SIDED_FIELDS) == mapping_fields
    left = Patient.model_validate(
        {
            "condition": "hemiparetic",
            "paretic_side": "left",
            "neural_delay_scale": {"left": 1.5},
            "descending_drive": {"left": 0.6},
        }
    )
    right = Patient.model_validate(mirror(left.model_dump()))
    assert (right.delay_scale_of("right"), right.delay_scale_of("left")) == (1.5, 1.0)
    assert right.drive_of("right") == 0.6 and right.paretic_side == "right"
    assert Patient.model_validate(mirror({"condition": "healthy"})).paretic_side == "none"


def test_presets_get_worse_with_level() -> None:
    strength = [
        patient(preset=f"hemiparetic-{lv}-left").strength_of("sol", "left") for lv in LEVELS
    ]
    severity = [patient(preset=f"hemiparetic-{lv}-left").severity for lv in LEVELS]
    assert strength == sorted(strength, reverse=True) and len(set(strength)) == 3
    assert severity == sorted(severity) and len(set(severity)) == 3


def test_incomplete_sci_is_bilateral_and_symmetric() -> None:
    p = patient(preset="incomplete-sci")
    assert p.paretic_side == "both"
    for field in SIDED:
        assert getattr(p, field).get("left") == getattr(p, field).get("right"), field
    assert p.strength_of("sol", "left") < p.strength_of("gmax", "left")  # distal weaker


# --- immutability and defaults --------------------------------------------------------------


def test_scenario_is_immutable() -> None:
    scenario = spec.from_dict({"patient": {"preset": "hemiparetic-mild-left"}})
    with pytest.raises((ValueError, TypeError, AttributeError)):
        scenario.patient.height_m = 1.9  # type: ignore[misc]
    with pytest.raises((ValueError, TypeError, AttributeError)):
        scenario.run = spec.Run(duration_s=1.0)  # type: ignore[misc]
    with pytest.raises((ValueError, TypeError, AttributeError)):
        scenario.run.seed = 3  # type: ignore[misc]
    assert scenario.patient.height_m == 1.75 and scenario.run.seed == 0


def test_scenario_maps_are_immutable() -> None:
    scenario = spec.from_dict({"patient": {"preset": "hemiparetic-mild-left"}})
    with pytest.raises(TypeError):
        scenario.patient.strength["left"]["sol"] = 0.1  # type: ignore[index]
    with pytest.raises(TypeError):
        scenario.patient.strength["right"] = {}  # type: ignore[index]


def test_wrong_types_are_errors_not_conversions() -> None:
    for bad in ({"height_m": "1.7"}, {"severity": True}):
        with pytest.raises(spec.ScenarioError):
            spec.from_dict({"patient": bad})
    with pytest.raises(spec.ScenarioError, match="run.seed"):
        spec.from_dict({"run": {"seed": 1.0}})


def test_preset_override_of_one_muscle_keeps_the_others() -> None:
    p = patient(preset="hemiparetic-moderate-left", strength={"left": {"sol": 0.5}})
    assert p.strength_of("sol", "left") == 0.5
    assert p.strength_of("gas", "left") == pytest.approx(0.6)


def test_scenario_round_trips_through_its_json_form() -> None:
    scenario = spec.from_dict({"patient": {"preset": "incomplete-sci"}})
    assert spec.Scenario.model_validate(spec.to_dict(scenario)) == scenario


def test_presets_are_not_shared_between_scenarios() -> None:
    a = patient(preset="hemiparetic-mild-left")
    b = patient(preset="hemiparetic-mild-left")
    assert a.strength["left"] is not b.strength["left"]
    assert PRESETS["hemiparetic-mild-left"]["strength"]["left"]["sol"] == pytest.approx(0.8)


def test_empty_file_gives_defaults_and_name_from_file(tmp_path: Path) -> None:
    path = tmp_path / "my-run.toml"
    path.write_text("")
    scenario = spec.load(path)
    assert scenario == Scenario(name="my-run")
    assert scenario.patient.condition == "healthy"


def test_to_dict_round_trips() -> None:
    scenario = spec.load(catalogue.resolve_scenario("hemiparetic-moderate-left"))
    assert spec.from_dict(spec.to_dict(scenario)) == scenario


# --- the catalogue --------------------------------------------------------------------------


def test_catalogue_is_not_empty() -> None:
    assert {"default", "passive-drop"} <= set(catalogue.scenario_names())


@pytest.mark.parametrize("name", catalogue.scenario_names())
def test_every_catalogue_scenario_loads(name: str) -> None:
    scenario = spec.load(catalogue.resolve_scenario(name))
    assert scenario.name == name
    assert scenario.description.strip()
    if scenario.patient.preset is not None:
        assert scenario.patient.preset in PRESETS


# --- bad scenarios --------------------------------------------------------------------------


def test_bad_files_cover_enough_kinds() -> None:
    assert len(BAD_FILES) >= 12
    headers = [bad_header(p) for p in BAD_FILES]
    for path in BAD_FILES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# expect: "), path.name
    assert len({h["expect"] for h in headers}) >= 10
    for path, header in zip(BAD_FILES, headers, strict=True):
        assert ("allowed" in header) != (path.name in NO_ALLOWED), path.name


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_file_message(path: Path) -> None:
    header = bad_header(path)
    with pytest.raises(ScenarioError) as info:
        spec.load(path)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1, f"one kind per file, one message: {msg}"
    assert msg.startswith(f"{path}: "), msg
    assert header["expect"] in msg, msg
    if "value" in header:
        assert f"{header['expect']} = {header['value']}:" in msg, msg
    if "allowed" in header:
        assert "allowed" in msg.split(header["expect"], 1)[1], msg
        assert header["allowed"] in msg, msg


def test_several_errors_are_all_named() -> None:
    data = {"patient": {"height_m": 3.0, "mass_kg": 10.0}, "run": {"duration_s": -1.0}}
    with pytest.raises(ScenarioError) as info:
        spec.from_dict(data, "x.toml")
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("x.toml: ") for line in lines)
    joined = "\n".join(lines)
    for needle in (
        "patient.height_m = 3.0",
        "patient.mass_kg = 10.0",
        "run.duration_s = -1.0",
        "1.2 <= value <= 2.2",
        "25.0 <= value <= 200.0",
        "0.0 < value <= 3600.0",
    ):
        assert needle in joined


@pytest.mark.parametrize(
    ("patient_fields", "needle"),
    [
        ({"preset": ["healthy"]}, "patient.preset = ['healthy']: unknown preset; allowed: healthy"),
        ({"preset": 3}, "patient.preset = 3: unknown preset"),
        ({"descending_drive": {"left": 1.5}}, "patient.descending_drive.left = 1.5"),
        (
            {"passive_stiffness_nm_rad": {"left": {"elbow": 1.0}}},
            "patient.passive_stiffness_nm_rad.left.elbow = 'elbow': unknown key; allowed: 'hip'",
        ),
        (
            {"contracture": {"right": {"sol": {"fibre_length_scale": 0.2}}}},
            "allowed: 0.5 <= value <= 1.0",
        ),
        ({"condition": "stroke"}, "allowed: 'healthy', 'hemiparetic' or 'incomplete-sci'"),
    ],
)
def test_other_patient_errors(patient_fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ScenarioError) as info:
        spec.from_dict({"patient": patient_fields}, "p.toml")
    assert needle in str(info.value)


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ScenarioError, match="missing.toml"):
        spec.load(missing)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ScenarioError, match="binary.toml"):
        spec.load(binary)


@pytest.mark.parametrize(
    ("course", "needle"),
    [
        ({"elements": [{"kind": "wall", "at_m": 1.0}]}, "course.elements[0].kind = 'wall'"),
        ({"elements": [{"at_m": 1.0}]}, "course.elements[0].kind: missing; allowed: 'curb'"),
        (
            {"elements": [{"kind": "box", "at_m": 1.0, "length_m": 0.2, "height_m": 0.9}]},
            "course.elements[0].height_m = 0.9: out of range; allowed: 0.0 < value <= 0.4",
        ),
        (
            {"elements": [{"kind": "curb", "at_m": 1.0, "height_m": -0.1}]},
            "elements[0] (curb at 1 m) takes the ground 0.1 m below its start level",
        ),
        (
            {
                "elements": [
                    {"kind": "box", "at_m": 1.0, "length_m": 1.0, "height_m": 0.1},
                    {"kind": "curb", "at_m": 1.5, "height_m": 0.1},
                ]
            },
            "elements[1] (curb at 1.5 m) overlaps elements[0] (box from 1 to 2 m)",
        ),
        (
            {"kind": "treadmill", "elements": [{"kind": "curb", "at_m": 1.0, "height_m": 0.1}]},
            "a curb is physical and needs kind = 'overground'",
        ),
        (
            {"elements": [{"kind": "belt_speed", "at_s": 1.0, "speed_m_s": 1.0}]},
            "a belt_speed perturbation needs kind = 'treadmill'",
        ),
    ],
)
def test_course_element_errors_name_the_element(course, needle):
    with pytest.raises(spec.ScenarioError) as err:
        spec.from_dict({"course": course})
    assert needle in str(err.value)
