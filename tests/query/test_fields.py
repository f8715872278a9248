"""What `fields_of` tells the API documentation about each column."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, LargeBinary, SmallInteger

from fluvius.data import new_metadata, state_table
from fluvius.query import FieldKind, Kind, fields_of
from tests.query.sample import table


def test_every_column_but_tenant_id_is_a_field_of_its_kind() -> None:
    fields = fields_of(table)
    assert {name: field.kind for name, field in fields.items()} == {
        "id": Kind.UUID,
        "version": Kind.NUMBER,
        "created_at": Kind.DATETIME,
        "updated_at": Kind.DATETIME,
        "owner": Kind.STRING,
        "notes": Kind.STRING,
        "count": Kind.NUMBER,
        "balance": Kind.NUMBER,
        "ratio": Kind.NUMBER,
        "active": Kind.BOOLEAN,
        "ref": Kind.UUID,
        "born": Kind.DATE,
        "seen_at": Kind.DATETIME,
        "status": Kind.ENUM,
        "data": Kind.JSON,
    }
    assert fields["status"] == FieldKind(Kind.ENUM, True, values=("open", "frozen", "closed"))
    assert [fields[name].number for name in ("version", "count", "balance", "ratio")] == [
        "int32",
        "int64",
        "decimal",
        "float",
    ]
    assert not fields["id"].nullable
    assert fields["owner"].nullable


def test_operators_and_sorting_follow_the_kind() -> None:
    fields = fields_of(table)
    assert fields["owner"].operators == ("eq", "ne", "in", "has", "startswith")
    assert fields["born"].operators == ("eq", "ne", "gt", "gte", "lt", "lte", "in", "between")
    assert fields["active"].operators == ("eq", "ne")
    assert fields["data"].operators == ()
    assert [name for name, field in fields.items() if not field.sortable] == ["data"]


def test_small_integers_have_their_own_range() -> None:
    small = state_table(new_metadata(), "small", Column("n", SmallInteger), tenancy=False)
    assert fields_of(small)["n"].number == "int16"


def test_a_column_type_queries_do_not_know_is_refused_early() -> None:
    odd = state_table(new_metadata(), "odd", Column("blob", LargeBinary), tenancy=False)
    with pytest.raises(TypeError, match="column 'blob' has type"):
        fields_of(odd)
