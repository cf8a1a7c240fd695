"""`relevance score`: scores a JSON-lines file of candidates for one query against a
served model (`serving.client.RelevanceClient`) and prints one JSON line per candidate,
in input order: its item_id (when the candidate has one), `score` (expected grade) and
`probabilities` (one per grade, grade 1 first). The flags are `cli.score_flags`.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "items.jsonl")
>>> with open(path, "w") as f:
...     _ = f.write('{"item_id": "1", "title": "red shoes"}\\n\\n{"title": "tea"}\\n')
>>> [row["title"] for row in _read_candidates(path)]
['red shoes', 'tea']
"""

import json
import sys
from typing import Dict, List

from serving.client import RelevanceClient
from serving.errors import ServingError


def _read_candidates(path: str) -> List[Dict]:
    candidates = []
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {number}: not JSON: {error}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path} line {number}: expected a JSON object per line")
            _require_unicode(row, f"{path} line {number}")
            candidates.append(row)
    if not candidates:
        raise ValueError(f"{path}: no candidates (one JSON object per line, e.g. "
                         '{"item_id": "1", "title": "red shoes"})')
    return candidates


def _require_unicode(value, where: str) -> None:
    """JSON's "\\ud800" escape decodes to a lone surrogate, which no UTF-8 request can
    carry: say where it is rather than fail while encoding the request."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: holds a string that is not valid Unicode (a lone "
                         "surrogate such as \\ud800); fix or drop it") from None


def score_main(args) -> int:
    """Prints one JSON line per candidate; returns 0, or 2 on a usage/server error."""
    try:
        _require_unicode(args.query, "--query")
        candidates = _read_candidates(args.candidates)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    root = open(args.tls_ca, "rb").read() if args.tls_ca else None
    client = RelevanceClient(args.server, args.model_name, signature_name=args.signature,
                             timeout_s=args.timeout, batch_size=args.batch_size,
                             root_certificates=root)
    try:
        for result in client.score(args.query, candidates):
            print(json.dumps(result, ensure_ascii=False))
    except ServingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    return 0
