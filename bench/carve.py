"""Carve a graded data set into labeled / unlabeled / test parts by query, deterministically.

A query's rows always land in one part, so a test query is never seen in training, not
even unlabeled. Rows are canonical field dicts (`relevance.adapters.load_records` output,
or rows of a canonical JSONL file); the unlabeled part is written without grades.

Example:

    >>> rows = [{"query": f"q{i % 10}", "item_id": str(i), "title": "t", "grade": 1}
    ...         for i in range(100)]
    >>> parts = carve_by_query(rows, [("labeled", 0.2), ("unlabeled", 0.5), ("test", 0.3)], seed=0)
    >>> [len(parts[name]) // 10 for name in ("labeled", "unlabeled", "test")]
    [2, 5, 3]
    >>> any("grade" in row for row in hide_grades(parts["unlabeled"]))
    False
"""

import json
import os
import random
from typing import Callable, Dict, Iterable, List, Sequence, Set, Tuple

from relevance import contract
from relevance.records import derive_query_id

GroupOf = Callable[[dict], str]


def query_group(row: dict) -> str:
    """The row's query id, derived from the query text as ExampleGen does when empty."""
    return row.get(contract.QUERY_ID) or derive_query_id(row[contract.QUERY])


def language_free_group(row: dict) -> str:
    """The query id without its `-<language>` suffix (XQuAD-R: one question, many languages)."""
    return query_group(row).rsplit("-", 1)[0]


def _shuffled_groups(rows: Iterable[dict], seed: int, group_of: GroupOf) -> List[str]:
    groups = sorted({group_of(row) for row in rows})
    random.Random(seed).shuffle(groups)
    return groups


def carve_by_query(
    rows: Sequence[dict],
    fractions: Sequence[Tuple[str, float]],
    seed: int,
    group_of: GroupOf = query_group,
) -> Dict[str, List[dict]]:
    """Split rows into named parts holding the given fractions of the queries.

    Args:
        rows: canonical field dicts.
        fractions: (part name, share of queries), shares summing to at most 1; queries
            beyond the sum are left out (a way to subsample).
        seed: the same seed and rows always give the same parts.
        group_of: the key that must never be split across parts.

    Raises:
        ValueError: negative shares, shares above 1 in total, or a part left empty.
    """
    total = sum(share for _, share in fractions)
    if any(share < 0 for _, share in fractions) or total > 1 + 1e-9:
        raise ValueError(f"fractions must be >= 0 and sum to at most 1, got {fractions}")
    groups = _shuffled_groups(rows, seed, group_of)
    part_of: Dict[str, str] = {}
    start, cumulative = 0, 0.0
    for name, share in fractions:
        cumulative += share
        end = round(cumulative * len(groups))
        if end <= start:
            raise ValueError(f"part {name!r} gets no query: {len(groups)} queries, share {share}")
        part_of.update((group, name) for group in groups[start:end])
        start = end
    parts: Dict[str, List[dict]] = {name: [] for name, _ in fractions}
    for row in rows:
        name = part_of.get(group_of(row))
        if name is not None:
            parts[name].append(row)
    return parts


def hide_grades(rows: Iterable[dict]) -> List[dict]:
    """Copies of the rows without a grade: pairs no human judged, as far as the pipeline knows."""
    return [{key: value for key, value in row.items() if key != contract.GRADE} for row in rows]


def drop_seen_queries(rows: Iterable[dict], seen: Iterable[dict]) -> List[dict]:
    """Rows whose query text (case and spacing aside) does not occur in `seen`.

    Generated data can repeat a query text under different ids; such a query would not be
    held out.
    """
    def text_key(row: dict) -> str:
        return " ".join(row[contract.QUERY].lower().split())

    seen_keys: Set[str] = {text_key(row) for row in seen}
    return [row for row in rows if text_key(row) not in seen_keys]


def write_jsonl(path: str, rows: Iterable[dict]) -> int:
    """Write canonical rows as JSONL (None values left out); return the row count."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            record = {key: value for key, value in row.items() if value is not None}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: str) -> List[dict]:
    """Rows of a JSONL file written by `write_jsonl` (or any canonical JSONL)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
