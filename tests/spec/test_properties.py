"""Properties of checking: any input gives a result, and every diagnostic points into the file."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fluvius_cli.spec import CheckResult, check_text

BANK_TEXT = (Path(__file__).parents[2] / "examples" / "bank" / "fluvius.yaml").read_text()
BANK = YAML(typ="safe").load(BANK_TEXT)

# Words of the spec format, so that random documents often reach the deeper checks.
WORDS = st.sampled_from(
    "fluvius project name tenancy domains aggregates fields commands events policies workers "
    "type create emits requires apply set add subtract allow scope on cron retries values "
    "default to ge gt le lt max_length index renamed_from description banking account "
    "open-account account-opened owner balance string decimal enum ref read $owner".split()
)
KEYS = WORDS | st.text(max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | WORDS
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)
SPEC_LIKE = st.fixed_dictionaries(
    {
        "fluvius": st.just(1) | SCALARS,
        "project": st.fixed_dictionaries({"name": WORDS | SCALARS}) | TREES,
        "domains": st.dictionaries(KEYS, TREES, max_size=3),
    }
)

PROPERTY = settings(max_examples=200, deadline=None)


def dump(data: Any) -> str:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    return stream.getvalue()


def assert_located(result: CheckResult, source: str | bytes) -> None:
    """A result is either a valid spec or diagnostics that each point into `source`."""
    assert isinstance(result, CheckResult)
    assert result.ok == (result.spec is not None)
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    for diagnostic in result.diagnostics:
        assert 1 <= diagnostic.position.line <= len(text.splitlines()) + 1
        assert diagnostic.position.column >= 1
        assert diagnostic.message.strip()


def scalar_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every scalar in a plain YAML document."""
    if isinstance(node, dict | list):
        for step, child in node.items() if isinstance(node, dict) else enumerate(node):
            yield from scalar_paths(child, (*path, step))
    else:
        yield path


def key_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every mapping key in a plain YAML document."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*path, key)
            yield from key_paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from key_paths(child, (*path, index))


def parent_of(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@PROPERTY
@given(st.binary(max_size=2048))
def test_random_bytes(source: bytes) -> None:
    assert_located(check_text(source), source)


@PROPERTY
@given(TREES | SPEC_LIKE)
def test_random_yaml(document: Any) -> None:
    source = dump(document)
    assert_located(check_text(source), source)


@PROPERTY
@given(st.sampled_from(list(key_paths(BANK))))
def test_bank_without_a_key(path: tuple[Any, ...]) -> None:
    spec = copy.deepcopy(BANK)
    del parent_of(spec, path)[path[-1]]
    source = dump(spec)
    assert_located(check_text(source), source)


@PROPERTY
@given(st.sampled_from(list(scalar_paths(BANK))), TREES)
def test_bank_with_a_scalar_replaced(path: tuple[Any, ...], value: Any) -> None:
    spec = copy.deepcopy(BANK)
    parent_of(spec, path)[path[-1]] = value
    source = dump(spec)
    assert_located(check_text(source), source)


@PROPERTY
@given(st.data())
def test_bank_with_its_text_edited(data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(BANK_TEXT)))
    end = data.draw(st.integers(start, min(len(BANK_TEXT), start + 40)))
    source = BANK_TEXT[:start] + data.draw(st.text(max_size=10)) + BANK_TEXT[end:]
    assert_located(check_text(source), source)


@PROPERTY
@given(st.text(max_size=12), TREES)
def test_extension_keys_are_ignored(suffix: str, value: Any) -> None:
    spec = copy.deepcopy(BANK)
    spec[f"x-{suffix}"] = value
    source = dump(spec)
    result = check_text(source)
    assert_located(result, source)
    # Only the YAML text itself may be refused (the dumper can write invalid YAML, and deep
    # values are too deep); what the extension key holds is never checked as spec.
    assert result.ok or all(d.code.number < "FV100" for d in result.diagnostics)
