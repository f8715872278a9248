"""The wording of diagnostics: plain words, the user's own names and values, no library text.

Each case edits one valid spec and lists every message checking it gives, so a case also shows
that nothing cascades from the one mistake.
"""

from __future__ import annotations

import re

import pytest

from fluvius_cli.spec import check_text

SPEC = """\
fluvius: 1
project:
  name: shop
domains:
  sales:
    aggregates:
      cart:
        fields:
          total: decimal
          status: {type: enum, values: [open, paid]}
        commands:
          open-cart:
            create: true
            fields: {note: string}
            emits: cart-opened
          pay:
            requires: {status: open}
            emits: cart-paid
        events:
          cart-opened:
            fields: {note: string}
          cart-paid:
            apply: {set: {status: paid}}
        policies:
          clerk: {allow: [open-cart, pay, read]}
"""
WORKERS = "          clerk: {allow: [open-cart, pay, read]}\n"
TOTAL = "field 'total' of aggregate 'sales.cart'"
CUSTOMER = """\
      customer:
        commands:
          register-customer: {create: true, emits: customer-registered}
        events:
          customer-registered: {}
"""


def edited(*edits: tuple[str, str]) -> str:
    source = SPEC
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new, 1)
    return source


def messages(source: str) -> list[str]:
    return [d.text for d in check_text(source).diagnostics]


def test_the_spec_edited_below_is_valid() -> None:
    assert messages(SPEC) == []


def case(name: str, edits: list[tuple[str, str]], *expected: str) -> object:
    return pytest.param(edits, list(expected), id=name)


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # The file and its YAML.
        case(
            "second-document",
            [(WORKERS, WORKERS + "---\nmore: 1\n")],
            "a spec is one YAML document; found a second",
        ),
        case(
            "invalid-int-tag",
            [("name: shop", "name: !!int shop")],
            "'shop' is not a valid !!int",
        ),
        case(
            "str-tag-version",
            [("fluvius: 1", "fluvius: !!str 1")],
            "spec format '1' is not supported; this fluvius reads `fluvius: 1`",
        ),
        case(
            "float-version",
            [("fluvius: 1", "fluvius: 1.0")],
            "spec format 1.0 is not supported; this fluvius reads `fluvius: 1`",
        ),
        # Constraints, in plain words rather than the validation library's.
        case(
            "greater-than",
            [("total: decimal", "total: {type: string, max_length: 0}")],
            f"'max_length' of {TOTAL} must be greater than 0",
        ),
        case(
            "at-least",
            [(WORKERS, WORKERS + "    workers:\n      remind: {on: cart-paid, retries: -1}\n")],
            "'retries' of worker 'remind' of sales must be at least 0",
        ),
        case(
            "empty-domains",
            [("domains:\n  sales:", "domains: {}\nx-unused:\n  sales:")],
            "'domains' must not be empty",
        ),
        case(
            "empty-enum-value",
            [("values: [open, paid]", "values: [open, paid, '']")],
            "item 3 of 'values' of field 'status' of aggregate 'sales.cart' must not be empty",
        ),
        case(
            "empty-requires",
            [("requires: {status: open}", "requires: {status: []}")],
            "'status' of command 'pay' of sales.cart must not be empty",
        ),
        case(
            "unknown-comparison",
            [("requires: {status: open}", "requires: {total: {gte: 1}}")],
            "'gte' of command 'pay' of sales.cart must be 'eq', 'ne', 'lt', 'le', 'gt', 'ge' "
            "or 'in'",
        ),
        case(
            "unordered-comparison",
            [("requires: {status: open}", "requires: {status: {gt: open}}")],
            "requires status gt: enum values have no order; compare numbers or dates",
        ),
        case(
            "comparison-of-kinds",
            [("requires: {status: open}", "requires: {total: {le: {field: status}}}")],
            "requires total le {field: status}, but decimal cannot be compared with enum",
        ),
        case(
            "comparison-with-unknown-command-field",
            [("requires: {status: open}", "requires: {total: {ge: $amount}}")],
            "'$amount' is not a field of command 'pay'",
        ),
        case(
            "nan-bound",
            [("total: decimal", "total: {type: decimal, ge: .nan}")],
            f"'ge' of {TOTAL} must be a finite number",
        ),
        case(
            "infinite-bound",
            [("total: decimal", "total: {type: float, lt: -.inf}")],
            f"'lt' of {TOTAL} must be a finite number",
        ),
        # Kinds of value.
        case(
            "field-as-number",
            [("total: decimal", "total: 5")],
            f"{TOTAL} must be a type name, or a mapping with a `type`, not the number 5",
        ),
        case(
            "one-or-many",
            [("emits: cart-paid", "emits: {event: cart-paid}")],
            "'emits' of command 'pay' of sales.cart must be a value or a list of values, "
            "not a mapping",
        ),
        case(
            "a-number",
            [("total: decimal", "total: {type: decimal, ge: lots}")],
            f"'ge' of {TOTAL} must be a number, not the text 'lots'",
        ),
        # Names.
        case(
            "roles-alike",
            [
                (
                    "          clerk:",
                    "          practice-manager: {allow: read}\n          practice_manager:",
                )
            ],
            "'practice_manager' collides with 'practice-manager': names may not differ only in "
            "case or in '-' against '_'",
        ),
        case(
            "domain-app",
            [("  sales:", "  app:")],
            "'app' is the module of the service's HTTP app (app.py)",
        ),
        case(
            "model-attribute",
            [("total: decimal", "event_name: string")],
            "'event_name' is already an attribute of the generated models",
        ),
        case(
            "index-on-json",
            [("total: decimal", "total: {type: json, index: true}")],
            f"`index` applies to fields of any type but json and file only; {TOTAL} is json",
        ),
        # Rules.
        case(
            "allowed-twice",
            [("allow: [open-cart, pay, read]", "allow: [open-cart, pay, read, pay]")],
            "'pay' is listed twice",
        ),
        case(
            "emits-nothing",
            [("emits: cart-paid", "emits: []")],
            "command 'pay' must emit an event",
        ),
        case(
            "no-whole-number",
            [("total: decimal", "count: {type: integer, gt: 1, lt: 2}")],
            "no whole number is within these bounds",
        ),
        case(
            "subtract-text",
            [("{set: {status: paid}}", "{subtract: {total: a}}")],
            "event 'cart-paid' subtracts 'a', which is not a number",
        ),
        case(
            "set-out-of-bounds",
            [
                ("total: decimal", "total: {type: decimal, le: 10}"),
                ("{status: paid}", "{total: 50}"),
            ],
            "event 'cart-paid' sets 'total' to 50, which must be at most 10",
        ),
        case(
            "add-beyond-bounds",
            [
                ("total: decimal", "total: {type: decimal, le: 10}"),
                ("{set: {status", "{add: {total: 50}, set: {status"),
            ],
        ),
        case(
            "flow-of-types",
            [
                (
                    "fields: {note: string}\n          cart-paid",
                    "fields: {note: date}\n          cart-paid",
                )
            ],
            "command field 'note' cannot fill the event's field: string values cannot be stored "
            "in a date field",
        ),
        case(
            "ref-to-another-aggregate",
            [
                ("total: decimal", "owner: {type: ref, to: sales.customer}"),
                ("{note: string}", "{owner: {type: ref, to: sales.cart}}"),
                (
                    "fields: {note: string}\n",
                    "fields: {owner: {type: ref, to: sales.cart}}\n"
                    "            apply: {set: {owner: $owner}}\n",
                ),
                (WORKERS, WORKERS + CUSTOMER),
            ],
            "'$owner' cannot be stored in 'owner': a ref to sales.cart cannot be stored in a ref "
            "to sales.customer",
        ),
        case(
            "cron-day-never-occurs",
            [(WORKERS, WORKERS + "    workers:\n      report: {cron: '0 0 30 feb *'}\n")],
            "cron '0 0 30 feb *': day of month: '30' is not valid"
            " (it takes 1-31, L or LW, a day its months have)",
        ),
        case(
            "cron-non-ascii-digit",
            [(WORKERS, WORKERS + "    workers:\n      report: {cron: '0 \u0663 * * *'}\n")],
            "cron '0 \u0663 * * *': hour: '\u0663' is not valid (it takes 0-23)",
        ),
        # No cascades: one mistake, one message.
        case(
            "creating-command-in-error",
            [("create: true", "create: yes")],
            "'create' of command 'open-cart' of sales.cart must be true or false, "
            "not the text 'yes'",
        ),
        case(
            "misspelt-events",
            [("        events:", "        event:")],
            "unknown key 'event' in aggregate 'sales.cart'; allowed: description, fields, "
            "commands, events, policies; did you mean 'events'?",
        ),
        case(
            "misspelt-fields",
            [("        fields:\n          total", "        field:\n          total")],
            "unknown key 'field' in aggregate 'sales.cart'; allowed: description, fields, "
            "commands, events, policies; did you mean 'fields'?",
        ),
    ],
)
def test_messages(edits: list[tuple[str, str]], expected: list[str]) -> None:
    assert messages(edited(*edits)) == expected


@pytest.mark.parametrize(
    ("edits", "python"),
    [
        pytest.param([("fluvius: 1", "fluvius: true")], "True", id="version-true"),
        pytest.param([("{set: {status: paid}}", "{add: {total: true}}")], "True", id="add-true"),
        pytest.param(
            [("{set: {status: paid}}", "{subtract: {total: null}}")], "None", id="subtract-null"
        ),
        pytest.param(
            [("total: decimal", "total: {type: decimal, default: .nan}")], "nan", id="default-nan"
        ),
    ],
)
def test_values_are_quoted_as_written(edits: list[tuple[str, str]], python: str) -> None:
    [message] = messages(edited(*edits))
    assert re.search(rf"(?<![.\w]){python}\b", message) is None


def test_tags_are_named_as_written() -> None:
    assert messages(edited(("name: shop", "name: !!set {shop: null}"))) == [
        "tag '!!set' is not supported; specs use plain YAML values"
    ]
