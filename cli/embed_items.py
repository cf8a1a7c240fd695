"""`relevance embed-items`: puts catalog items into an ItemEmbedder's embedding space.

Reads a catalog (JSONL or CSV rows in the canonical record format; only `item_id` and
the item text fields are used, no query needed) and an `EmbeddingSpace` directory (the
ItemEmbedder's `embedding_space` output), encodes each distinct item text with the
space's own encoder and budgets (`TextEncoder`), projects it, and writes each row back
as a JSON line with `"item_embedding": [D floats]` added: the values the component
writes onto that item's rows. The output is a catalog ready for `relevance score
--candidates` (and, for a file of graded pairs, for `relevance evaluate`: an item that
recurs under several queries is encoded once and written on each of its rows). Rows
without an item id or item text, rows that do not parse and texts the encoder fails on
are quarantined (a JSON line each, with its reason) and counted; the job carries on.
The flags are `cli.embed_items_flags`.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "items.csv")
>>> _ = open(path, "w").write('item_id,title,board_titles\\ni1, Red mug ,Kitchen | Home\\n')
>>> [catalog_item(row.fields) for row in read_catalog(path)]
[('i1', 'Red mug Kitchen Home')]
"""

import collections
import dataclasses
import json
import os
import sys
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from components.item_embedder.texts import item_embedding_text
from relevance import contract
from relevance.csv_checks import UNPARSEABLE_ROW, record_problem
from relevance.errors import InputError, RecordError
from relevance.raw_row import RawRow
from relevance.readers import read_rows, resolve_format
from relevance.record_parsing import parse_list_cell
from relevance.text_files import csv_file_records

# Rows encoded together: the encoder sorts each chunk by length, so a larger one pads less.
CHUNK_ROWS = 2048
ENCODE_ERROR = "encode_error"


def _catalog_csv_header(path: str) -> List[str]:
    """The header, checked (an `item_id` column; every quote closed) before any row is used."""
    header = [name.strip() for name in next(iter(csv_file_records(path)), (0, 0, []))[2]]
    if contract.ITEM_ID not in header:
        raise InputError(f"{path}: the CSV header has no {contract.ITEM_ID!r} column (found "
                         f"{', '.join(header[:10]) or 'nothing'})")
    sum(1 for _ in csv_file_records(path))  # an unclosed quote stops the file up front
    return header


def _read_catalog_csv(path: str, header: List[str]) -> Iterator[RawRow]:
    records = csv_file_records(path)
    next(records)
    row_number = 0
    for first, last, cells in records:
        if not cells:
            continue
        row_number += 1
        problem = record_problem(header, cells, first, last)
        if problem:
            yield RawRow(path, row_number, None, problem[1], problem[0])
            continue
        yield RawRow(path, row_number, dict(zip(header, cells)), None)


def read_catalog(path: str, fmt: str = "auto") -> Iterator[RawRow]:
    """The catalog's rows: CSV (an `item_id` column, no query needed), JSONL or TFRecord."""
    resolved = resolve_format(path, fmt)
    if resolved == "csv":
        return _read_catalog_csv(path, _catalog_csv_header(path))
    return read_rows(path, resolved)


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return " ".join(part for part in (_text(v) for v in value) if part)
    return "" if value is None else str(value).strip()


def catalog_item(fields: Dict) -> Tuple[str, str]:
    """(item id, item text) of a catalog row, canonicalised as ExampleGen does (fields
    stripped, list fields split), so the text is the one the component encodes."""
    item_id = _text(fields.get(contract.ITEM_ID))
    if not item_id:
        raise RecordError("missing_item_id", f"the {contract.ITEM_ID!r} field is empty or "
                          "missing", contract.ITEM_ID)
    record = {name: _text(fields.get(name)) for name in contract.ITEM_SCALAR_TEXT_FIELDS}
    record.update({name: parse_list_cell(fields.get(name))
                   for name in contract.ITEM_LIST_TEXT_FIELDS})
    text = item_embedding_text(record)
    if not text.strip():
        raise RecordError("missing_item_text", "the item has no text: fill at least one of "
                          + ", ".join(contract.ITEM_TEXT_FIELDS))
    return item_id, text


@dataclasses.dataclass
class EmbedItemsCounts:
    """Rows in, items written, rows quarantined by reason.

    >>> EmbedItemsCounts(3, 2, collections.Counter({"missing_item_id": 1})).summary()
    'embed-items: 3 rows in, 2 items written, 1 quarantined ({"missing_item_id": 1})'
    """

    rows_in: int = 0
    written: int = 0
    quarantined: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def summary(self) -> str:
        return (f"embed-items: {self.rows_in} rows in, {self.written} items written, "
                f"{sum(self.quarantined.values())} quarantined "
                f"({json.dumps(dict(sorted(self.quarantined.items())))})")


def _jsonable(value):
    """A row's value as JSON can hold it (TFRecord rows hold bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _shortest(vector: np.ndarray) -> List[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(str(value)) for value in np.asarray(vector, np.float32)]


class CatalogEmbedder:
    """Embeds catalog rows chunk by chunk: `encoder` a `TextEncoder`, `space` an
    `EmbeddingSpace`; `write(line)` gets each item's JSON line, `quarantine(line)` each
    bad row's, `progress(n)` the items encoded so far.

    Example (a stand-in encoder):

    >>> from components.item_embedder.embedding_space import EmbeddingSpace
    >>> class StandIn:
    ...     def encode_items(self, texts, on_batch=None):
    ...         return np.eye(3, dtype=np.float32)[[len(text) % 3 for text in texts]]
    >>> written, quarantined = [], []
    >>> embedder = CatalogEmbedder(StandIn(), EmbeddingSpace.fit(np.eye(3), 2, "stand-in"),
    ...                            written.append, quarantined.append)
    >>> embedder.run([RawRow("c.jsonl", 1, {"item_id": "i1", "title": "mug"}, None),
    ...               RawRow("c.jsonl", 2, {"title": "lamp"}, None)]).summary()
    'embed-items: 2 rows in, 1 items written, 1 quarantined ({"missing_item_id": 1})'
    >>> sorted(json.loads(written[0])), json.loads(quarantined[0])["row"]
    (['item_embedding', 'item_id', 'title'], 2)
    """

    def __init__(self, encoder, space, write, quarantine, progress=None):
        self._encoder, self._space = encoder, space
        self._write, self._quarantine = write, quarantine
        self._progress = progress
        self.counts = EmbedItemsCounts()

    def _reject(self, row: RawRow, reason: str, message: str) -> None:
        self.counts.quarantined[reason] += 1
        self._quarantine(json.dumps({"source": row.source, "row": row.row_number,
                                     "reason": reason, "message": message},
                                    ensure_ascii=False))

    def run(self, rows: Iterable[RawRow]) -> EmbedItemsCounts:
        chunk: List[Tuple[RawRow, str, str]] = []
        for row in rows:
            self.counts.rows_in += 1
            if row.fields is None:
                self._reject(row, row.reason or UNPARSEABLE_ROW, row.error or "unparseable")
                continue
            try:
                item_id, text = catalog_item(row.fields)
            except RecordError as error:
                self._reject(row, error.reason, str(error))
                continue
            chunk.append((row, item_id, text))
            if len(chunk) >= CHUNK_ROWS:
                self._flush(chunk)
                chunk = []
        self._flush(chunk)
        return self.counts

    def _encode(self, texts: List[str]) -> np.ndarray:
        vectors = self._encoder.encode_items(texts, on_batch=self._progress)
        if not np.all(np.isfinite(vectors)):
            raise ValueError("the encoder returned non-finite values")
        return self._space.project(vectors)

    def _flush(self, chunk: List[Tuple[RawRow, str, str]]) -> None:
        if not chunk:
            return
        texts = list(dict.fromkeys(text for _, _, text in chunk))  # each distinct text once
        try:
            vectors: List[Optional[np.ndarray]] = list(self._encode(texts))
        except Exception:  # noqa: BLE001 - TF, Keras and tokenizer errors all differ
            vectors = []
            for text in texts:  # one by one: only the texts that fail are lost
                try:
                    vectors.append(self._encode([text])[0])
                except Exception:  # noqa: BLE001 - as above
                    vectors.append(None)
        vector_of = dict(zip(texts, vectors))
        for row, item_id, text in chunk:
            vector = vector_of[text]
            if vector is None:
                self._reject(row, ENCODE_ERROR, f"the encoder failed on item {item_id}")
                continue
            fields = {name: _jsonable(value) for name, value in row.fields.items()
                      if name != contract.ITEM_EMBEDDING}
            fields[contract.ITEM_EMBEDDING] = _shortest(vector)
            self._write(json.dumps(fields, ensure_ascii=False))
            self.counts.written += 1


def quarantine_path(output: str) -> str:
    """Where the quarantined rows go by default: beside the output.

    >>> quarantine_path("/out/items.jsonl")
    '/out/items.quarantine.jsonl'
    """
    return os.path.splitext(output)[0] + ".quarantine.jsonl"


def embed_items_main(args) -> int:
    """Writes the items' embeddings; returns 0, or 2 on a usage error (bad space or preset)."""
    from components.item_embedder.embedding_space import EmbeddingSpace
    from components.item_embedder.text_encoder import TextEncoder
    from relevance.progress import RateProgress

    try:
        space = EmbeddingSpace.load(args.space)
        rows = read_catalog(args.catalog, args.format)
        encoder = TextEncoder(args.preset or space.preset, space.query_length,
                              space.item_length, args.batch_size,
                              preset_cache_dir=args.preset_cache)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if encoder.hidden_dim != space.hidden_dim:
        print(f"error: the encoder {encoder.preset} gives {encoder.hidden_dim} dimensions; "
              f"the space at {args.space} was fitted on {space.hidden_dim}", file=sys.stderr)
        return 2
    progress = RateProgress("embed-items", interval_seconds=10, unit="items",
                            emit=lambda line: print(line, file=sys.stderr, flush=True))
    quarantine = args.quarantine or quarantine_path(args.output)
    with open(args.output, "w", encoding="utf-8") as out, \
            open(quarantine, "w", encoding="utf-8") as bad:
        counts = CatalogEmbedder(encoder, space, lambda line: out.write(line + "\n"),
                                 lambda line: bad.write(line + "\n"), progress.update).run(rows)
    progress.finish()
    print(counts.summary())
    print(f"wrote {args.output} ({space.dims} dims); quarantine: {quarantine}")
    return 0

