"""Configuration files parse into typed models; a bad one names file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from arshjul.config import BUNDLED_CONFIG, BUNDLED_WHEEL, UNMAPPED_KNOWLEDGE_AREA, load_config
from arshjul.errors import ConfigError


def test_the_bundled_configuration_is_valid(config):
    assert config.settings.region.name == "Region Demoland"
    assert config.codes.risk_band(8) == "hög"
    assert config.codes.risk_band(12) == "mycket hög"
    assert config.wheel.milestone("ps-report").deadlines[0].due.month == 3
    assert "Händelsetyp" in config.columns.aliases["deviations"]["category"]


def _region_dir(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, "utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "settings.yaml",
            "region: {id: X}\n",
            ["settings.yaml", "'region.name'", "Field required"],
        ),
        (
            "settings.yaml",
            "region: {id: X, name: Y}\ncalendar: {refresh_hours: 0}\n",
            ["'calendar.refresh_hours'", "value 0"],
        ),
        ("codes.yaml", "deviation_categories: [a\n", ["codes.yaml", "not valid YAML"]),
        (
            "arshjul.yaml",
            "milestones:\n  - id: ps-report\n    title: X\n    deadlines:\n"
            "      - {level: region, owner_role: r, due: {month: 13, day: 1}}\n",
            ["arshjul.yaml", "milestones[", "due.month", "value 13"],
        ),
        (
            "arshjul.yaml",
            "milestones:\n  - id: extra\n    title: X\n    deadlines:\n"
            "      - {level: region, owner_role: r, due: {month: 1, day: 1, nth_working_day: 2}}\n",
            ["exactly one of day, last_working_day, nth_working_day"],
        ),
    ],
)
def test_a_bad_file_names_file_key_and_value(tmp_path, name, text, expected):
    with pytest.raises(ConfigError) as raised:
        load_config(_region_dir(tmp_path, name, text))
    for fragment in expected:
        assert fragment in str(raised.value)


def test_a_region_overrides_one_milestone_and_keeps_the_rest(tmp_path):
    own = _region_dir(
        tmp_path,
        "arshjul.yaml",
        "milestones:\n  - id: training\n    title: Utbildning\n    deadlines:\n"
        "      - {level: unit, owner_role: enhetschef, due: {month: 9, day: 30}}\n",
    )
    wheel = load_config(own).wheel
    assert wheel.milestone("training").deadlines[0].due.month == 9
    assert wheel.milestone("ps-compile").title.startswith("Sammanställning")


def test_the_bundled_knowledge_areas_map_known_categories(config):
    mapping = config.knowledge_areas
    assert set(mapping.categories) <= set(config.codes.deviation_categories)
    assert mapping.areas_of("Läkemedel") == ("Läkemedel (NAG läkemedel och läkemedelsområdet)",)
    assert mapping.areas_of("Fall") == mapping.areas_of("Trycksår")
    assert mapping.areas_of("Dokumentation") == (UNMAPPED_KNOWLEDGE_AREA,)
    assert len(mapping.areas_of("Kommunikation och information")) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "categories:\n  Fall: [Prevention]\n  Fallolycka: [Prevention]\n",
            ["knowledge_areas.yaml", "key 'categories.Fallolycka'", "value 'Fallolycka'"],
        ),
        ("categories:\n  Fall: Prevention\n", ["knowledge_areas.yaml", "categories.Fall"]),
        ("categories:\n  Fall: ['']\n", ["knowledge_areas.yaml", "categories.Fall[0]"]),
    ],
)
def test_a_bad_knowledge_area_mapping_names_file_key_and_value(tmp_path, text, expected):
    with pytest.raises(ConfigError) as raised:
        load_config(_region_dir(tmp_path, "knowledge_areas.yaml", text))
    for fragment in expected:
        assert fragment in str(raised.value)


def test_a_region_maps_its_own_categories(tmp_path):
    mapping = load_config(
        _region_dir(
            tmp_path, "knowledge_areas.yaml", "categories:\n  Fall: [A, B]\n  Trycksår: []\n"
        )
    ).knowledge_areas
    assert mapping.areas == ("A", "B")
    assert (
        mapping.areas_of("Trycksår") == mapping.areas_of("Läkemedel") == (UNMAPPED_KNOWLEDGE_AREA,)
    )


def test_a_missing_config_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        load_config(tmp_path / "nope")


def test_every_input_kind_has_the_name_a_documents_reader_knows():
    from arshjul.config import KIND_SV
    from arshjul.importers import KINDS

    assert set(KIND_SV) == set(KINDS)


@pytest.mark.parametrize(
    ("name", "old", "new", "key"),
    [
        # the region's name: on the start page, the status page and in every calendar
        (
            "settings.yaml",
            "Region Demoland",
            "Region Demoland 471124\u2009\u2013\u20098809",
            "region.name",
        ),
        # a category: in every compilation and analysis
        (
            "codes.yaml",
            "- Fall\n",
            "- Fall \u0664\u0667\u0661\u0661\u0662\u0664-8809\n",
            "deviation_categories[2]",
        ),
        # a milestone's title: in every calendar
        (
            "arshjul.yaml",
            "title: Patientsäkerhetsberättelse",
            "title: Samtal 19471124+8809",
            "title",
        ),
    ],
)
def test_a_personnummer_in_a_configuration_file_is_refused_and_masked(
    tmp_path, name, old, new, key
):
    """Configuration text is published as it is: a personnummer there is refused like one
    in an input file, and not shown."""
    bundled = BUNDLED_WHEEL if name == "arshjul.yaml" else BUNDLED_CONFIG / name
    text = bundled.read_text("utf-8")
    assert old in text
    with pytest.raises(ConfigError) as raised:
        load_config(_region_dir(tmp_path, name, text.replace(old, new, 1)))
    message = str(raised.value)
    assert name in message and key in message and "personnummer" in message
    assert "8809" not in message
