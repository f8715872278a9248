"""The JSON Schema of fluvius.yaml: valid 2020-12, accepts the examples, refuses bad shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from fluvius_cli.spec.schema import spec_json_schema

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/fluvius.yaml"))
BAD = Path(__file__).parent / "bad"
GOOD = sorted((Path(__file__).parent / "good").glob("*.yaml"))
# Corpus files whose only problem is the shape: unknown keys, missing keys, wrong types,
# values out of range, unknown field types, the spec version.
STRUCTURAL = [
    "fv101-misspelt-domains",
    "fv101-unknown-field-key",
    "fv101-worker-retry",
    "fv102-missing-commands",
    "fv102-missing-project-name",
    "fv103-bool-as-text",
    "fv103-fields-as-list",
    "fv103-retries-float",
    "fv103-top-level-list",
    "fv104-domains-empty",
    "fv104-enum-value-empty",
    "fv104-requires-empty-list",
    "fv104-allow-empty",
    "fv104-retries-too-many",
    "fv105-unknown-field-type",
    "fv106-spec-version",
    "fv106-spec-version-bool",
    "fv106-spec-version-text",
]


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(spec_json_schema())


def test_schema_is_valid_2020_12() -> None:
    schema = spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.parent.name for path in EXAMPLES])
def test_examples_validate(validator: Draft202012Validator, path: Path) -> None:
    assert list(validator.iter_errors(load(path))) == []


@pytest.mark.parametrize("path", GOOD, ids=[path.stem for path in GOOD])
def test_good_specs_validate(validator: Draft202012Validator, path: Path) -> None:
    assert list(validator.iter_errors(load(path))) == []


def test_extension_keys_are_allowed_at_the_top_only(validator: Draft202012Validator) -> None:
    spec = load(EXAMPLES[0])
    spec["x-anchors"] = {"money": {"type": "decimal", "ge": 0}}
    spec["x-"] = [1, "two", None]
    assert list(validator.iter_errors(spec)) == []
    spec["X-anchors"] = {}
    assert not validator.is_valid(spec)
    del spec["X-anchors"]
    spec["project"]["x-note"] = "not here"
    assert not validator.is_valid(spec)


@pytest.mark.parametrize("stem", STRUCTURAL)
def test_bad_shapes_are_refused(validator: Draft202012Validator, stem: str) -> None:
    assert not validator.is_valid(load(BAD / f"{stem}.yaml"))


def test_top_level_keys_are_described() -> None:
    schema = spec_json_schema()
    assert schema["description"]
    assert set(schema["properties"]) == {"fluvius", "project", "domains", "streams"}
    for key, node in schema["properties"].items():
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
        assert node.get("description"), f"'{key}' has no description"


def test_cli_prints_the_schema() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "fluvius_cli", "schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(run.stdout) == spec_json_schema()
