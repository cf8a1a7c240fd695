"""`RawRow`: one data row as a reader gives it, before validation.

Its own module so that the canonical readers (`relevance.readers`) and the data-set
adapters (`relevance.adapters`), which `read_rows` calls, share it without importing
each other.
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass
class RawRow:
    """One data row as read from a file, before validation.

    Attributes:
        source: the file the row came from.
        row_number: 1-based position of the row. CSV: data row (the header is not a
            row). JSONL: line number (blank lines count, so editors agree).
            TFRecord: record number.
        fields: column name -> Python value (str, int, float or list), or None when
            the row could not be parsed.
        error: why the row could not be parsed, else None.
        reason: the quarantine reason code for `error` (None: "unparseable_row").

    Example:
        >>> row = RawRow(source="a.csv", row_number=1, fields={"query": "red shoes"}, error=None)
        >>> row.fields["query"]
        'red shoes'
    """

    source: str
    row_number: int
    fields: Optional[dict]
    error: Optional[str]
    reason: Optional[str] = None
