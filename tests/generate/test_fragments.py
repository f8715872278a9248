"""Each generated code fragment carries the imports it needs."""

from __future__ import annotations

from fluvius_cli.generate import pytypes
from fluvius_cli.generate.imports import Import, code, joined
from fluvius_cli.generate.view import FieldView
from fluvius_cli.spec.model import FieldSpec

DECIMAL = Import("decimal", "Decimal")


def test_fragments_written_together_need_what_each_needs() -> None:
    amount = pytypes.literal(FieldSpec(type="decimal"), "1.5")
    day = pytypes.literal(FieldSpec(type="date"), "2024-01-15")

    both = "[" + joined(", ", [amount, day, code("None")]) + "]"

    assert both.text == '[Decimal("1.5"), dt.date(2024, 1, 15), None]'
    assert both.imports == {DECIMAL, Import("datetime", alias="dt")}


def test_a_field_declaration_imports_its_type_default_and_constraints() -> None:
    amount = FieldView("amount", FieldSpec(type="decimal", gt=0, default="0"), "command")
    name = FieldView("name", FieldSpec(type="string", max_length=20), "command")

    assert amount.declaration.text == (
        'amount: Annotated[Decimal, DecimalText(gt=0)] = Decimal("0")'
    )
    assert amount.declaration.imports == {
        Import("typing", "Annotated"),
        Import("fluvius.domain.types", "DecimalText"),
        DECIMAL,
    }
    assert name.declaration.text == "name: Text = Field(max_length=20)"
    assert name.declaration.imports == {
        Import("fluvius.domain.types", "Text"),
        Import("pydantic", "Field"),
    }


def test_a_conversion_imports_only_what_it_writes() -> None:
    integer, decimal = FieldSpec(type="integer"), FieldSpec(type="decimal")

    assert pytypes.convert("event.n", integer, decimal).imports == {DECIMAL}
    assert pytypes.convert("event.n", decimal, decimal).imports == set()


def test_a_column_imports_its_type_and_server_default() -> None:
    column = FieldView("active", FieldSpec(type="boolean", default=True), "state").column

    assert column.text == 'Column("active", Boolean(), nullable=False, server_default=true())'
    assert column.imports == {
        Import("sqlalchemy", "Column"),
        Import("sqlalchemy", "Boolean"),
        Import("sqlalchemy", "true"),
    }
