"""The query builder: list a state table as `GET /{domain}.{aggregate}/` asks.

    listing = await list_rows(
        connection, table, query='{"balance.gt": 10, "status!eq": "closed"}',
        sort="balance.desc,owner.asc", limit=20, cursor=None,
    )

`query=` is a JSON object: `"field": v` (equality), `"field.op": v`, `"field!op": v` (negation),
`".and"` / `".or"`: lists of such objects. Operators by kind are in `fields_of(table)`. Every
refusal is a QueryError with a stable `code`.
"""

from fluvius.query.errors import QueryError
from fluvius.query.fields import FieldKind, Kind, fields_of
from fluvius.query.listing import Listing, list_rows

__all__ = ["FieldKind", "Kind", "Listing", "QueryError", "fields_of", "list_rows"]
