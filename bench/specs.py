"""Specs of any size for the benchmarks: N aggregates shaped like the bank's account."""

from __future__ import annotations

AGGREGATES_PER_DOMAIN = 10


def spec(aggregates: int, name: str = "big") -> str:
    """A valid spec with `aggregates` aggregates, ten per domain."""
    lines = ["fluvius: 1", "project:", f"  name: {name}", "domains:"]
    for number in range(aggregates):
        if number % AGGREGATES_PER_DOMAIN == 0:
            lines += [f"  area{number // AGGREGATES_PER_DOMAIN}:", "    aggregates:"]
        lines += _aggregate(f"thing{number % AGGREGATES_PER_DOMAIN}")
    return "\n".join(lines) + "\n"


def _aggregate(name: str) -> list[str]:
    return [
        f"      {name}:",
        "        fields:",
        "          owner: {type: string, max_length: 80, index: true}",
        "          balance: {type: decimal, default: 0}",
        "          status: {type: enum, values: [open, frozen, closed], default: open}",
        "        commands:",
        f"          open-{name}:",
        "            create: true",
        "            fields: {owner: string, initial: {type: decimal, ge: 0, default: 0}}",
        f"            emits: {name}-opened",
        "          deposit:",
        "            fields: {amount: {type: decimal, gt: 0}}",
        "            requires: {status: open}",
        "            emits: money-deposited",
        "          freeze:",
        "            requires: {status: open}",
        f"            emits: {name}-frozen",
        "        events:",
        f"          {name}-opened:",
        "            fields: {owner: string, initial: decimal}",
        "            apply: {set: {owner: $owner, balance: $initial, status: open}}",
        "          money-deposited:",
        "            fields: {amount: decimal}",
        "            apply: {add: {balance: $amount}}",
        f"          {name}-frozen:",
        "            apply: {set: {status: frozen}}",
        "        policies:",
        f"          teller: {{allow: [open-{name}, deposit, freeze, read]}}",
        "          customer: {allow: [deposit, read], scope: owner}",
    ]
