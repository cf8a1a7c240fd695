"""XQuAD-R (LAReQA): the same questions in several languages, answered by one sentence.

File: `<lang>.json` in SQuAD layout, `data[].paragraphs[]` with `context`, `sentences`,
`sentence_breaks` ([[start, end], ...] character offsets into `context`) and
`qas[]` with `id`, `question`, `answers[].answer_start`. The path may also be a
directory: every `*.json` file in it is read, each with the language of its name.

Each question becomes one query whose candidates are the sentences of its paragraph:

| source                                   | record      |
|------------------------------------------|-------------|
| question                                 | query       |
| qa id + "-" + language                   | query_id    |
| sentence text                            | title       |
| language + article/paragraph/sentence no.| item_id     |
| file name stem ("en.json" -> "en")       | language    |

Grades: G = 2 by default, the sentence containing an `answer_start` is grade 2, every
other sentence of the paragraph grade 1. The judgment is binary, so G = 2 keeps accuracy
and QWK honest and gives exactly one AUROC threshold (`auroc_ge_2`: answer vs not) and
nDCG gains of 1 and 0. To score a model trained on a G-grade scale, pass the option
`num_grades=G`: the answer sentence is then grade G and the rest stay grade 1, so
`auroc_ge_G` is the answer-vs-not threshold and nDCG is unchanged up to a constant gain.

Checks: a file that is not JSON in this layout stops (`InputError`). Inside it, each
row a broken part stands for is quarantined as `unparseable_row` with the paragraph and
question: a paragraph without a `sentences` or `sentence_breaks` list (one row per
question), a question whose `answer_start` is not an integer (one row per sentence), a
sentence without its `[start, end]` in `sentence_breaks` (that sentence's row). Nothing
is dropped without a count.

Example:
    >>> rows, num_grades = read_rows("xquad-r/es.json")  # doctest: +SKIP
    >>> next(rows).fields["language"], num_grades  # doctest: +SKIP
    ('es', 2)
"""

import itertools
import json
import os
import re
from typing import Iterator, List, Optional, Tuple

from relevance import contract
from relevance.adapters._text import require_file
from relevance.csv_checks import UNPARSEABLE_ROW
from relevance.errors import InputError
from relevance.raw_row import RawRow
from relevance.language import normalise_language_code
from relevance.lazy_tensorflow import tf

NUM_GRADES = 2
_LANGUAGE_IN_NAME = re.compile(r"(?:^|[-_.])([a-z]{2})(?:[-_][a-z]{2})?$", re.IGNORECASE)


def read_rows(
    path: str, language: Optional[str] = None, num_grades=NUM_GRADES
) -> Tuple[Iterator[RawRow], int]:
    """Return (rows with raw record fields, G). `language` overrides the file name's."""
    try:
        num_grades = int(num_grades)
    except (TypeError, ValueError):
        raise InputError(f"{path}: xquad-r option num_grades must be an integer, "
                         f"got {num_grades!r}.") from None
    if num_grades < 2:
        raise InputError(f"{path}: xquad-r needs num_grades >= 2, got {num_grades}.")
    if tf.io.gfile.isdir(path):
        files = sorted(tf.io.gfile.glob(os.path.join(path, "*.json")))
        if not files:
            raise InputError(f"{path}: the directory holds no *.json XQuAD-R files.")
        if language:
            raise InputError(f"{path}: the language option needs a single file, not a directory.")
    else:
        require_file(path, "the XQuAD-R JSON file")
        files = [path]
    # Parse every file now so a broken file fails before any scoring starts.
    documents = [(name, _file_language(name, language), _read_json(name)) for name in files]
    return _rows(documents, num_grades), num_grades


def _file_language(path: str, language: Optional[str]) -> str:
    if language:
        return normalise_language_code(language)
    stem = os.path.basename(path).rsplit(".", 1)[0]
    match = _LANGUAGE_IN_NAME.search(stem)
    if not match:
        raise InputError(
            f"{path}: cannot tell the language from the file name; name it like en.json "
            "or pass the adapter option language=CODE."
        )
    return normalise_language_code(match.group(1))


def _read_json(path: str) -> List[list]:
    """The paragraph lists of the file's articles; a file without that layout stops."""
    try:
        with tf.io.gfile.GFile(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
        articles = document["data"]
        if not isinstance(articles, list):
            raise TypeError(f"'data' is a {type(articles).__name__}, not a list")
        paragraph_lists = [article["paragraphs"] for article in articles]
        for paragraphs in paragraph_lists:
            if not isinstance(paragraphs, list):
                raise TypeError(f"'paragraphs' is a {type(paragraphs).__name__}, not a list")
        return paragraph_lists
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"{path}: not an XQuAD-R / SQuAD JSON file with data[].paragraphs[] ({err!r})."
        ) from err


def _rows(documents, num_grades: int) -> Iterator[RawRow]:
    for path, language, paragraph_lists in documents:
        # Every row the file would give, quarantined ones included, is numbered, so
        # that rows in = rows out + quarantined.
        numbers = itertools.count(1)
        for article_index, paragraphs in enumerate(paragraph_lists):
            for paragraph_index, paragraph in enumerate(paragraphs):
                key = f"{language}:{article_index}:{paragraph_index}"
                for fields, error in _paragraph_rows(paragraph, language, key, num_grades):
                    yield RawRow(path, next(numbers), fields, error,
                                 None if error is None else UNPARSEABLE_ROW)


def _paragraph_rows(paragraph, language, key, num_grades) -> Iterator[tuple]:
    """(fields, None) per (question, sentence), or (None, why) for each row that the
    paragraph's broken parts stand for."""
    paragraph = paragraph if isinstance(paragraph, dict) else {}
    qas = paragraph.get("qas")
    qas = qas if isinstance(qas, list) else [None]
    sentences, breaks = paragraph.get("sentences"), paragraph.get("sentence_breaks")
    for name, value in (("sentences", sentences), ("sentence_breaks", breaks)):
        if not isinstance(value, list):
            for _ in qas:  # the rows are unknown: one per question stands for them
                yield None, f"paragraph {key} has no {name!r} list"
            return
    for qa in qas:
        starts, problem = _answer_starts(qa)
        for index, sentence in enumerate(sentences):
            span = breaks[index] if index < len(breaks) else None
            if problem:
                yield None, f"paragraph {key}, question {_shown(qa, 'id')}: {problem}"
            elif not _is_span(span):
                yield None, (f"paragraph {key}, sentence {index}: no [start, end] in "
                             f"sentence_breaks ({len(sentences)} sentences, {len(breaks)} breaks)")
            else:
                yield _fields(qa, language, f"{key}:{index}", sentence,
                              num_grades if any(span[0] <= s < span[1] for s in starts) else 1), None


def _answer_starts(qa) -> Tuple[List[int], Optional[str]]:
    """The answers' start offsets, or why they cannot be read."""
    if not isinstance(qa, dict):
        return [], "the question is not an object with 'id', 'question' and 'answers'"
    answers = qa.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
        return [], "'answers' is not a list of objects"
    starts = [answer.get("answer_start") for answer in answers]
    for start in starts:
        if isinstance(start, bool) or not isinstance(start, int):
            return [], f"answer_start {start!r} is not an integer character offset"
    return starts, None


def _is_span(span) -> bool:
    return (isinstance(span, (list, tuple)) and len(span) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in span))


def _shown(qa, name: str) -> str:
    return repr(qa.get(name)) if isinstance(qa, dict) else "?"


def _fields(qa: dict, language: str, item_id: str, sentence, grade: int) -> dict:
    qa_id = qa.get("id")
    return {
        contract.QUERY: qa.get("question"),
        # Without an id the query id is derived from the question text (to_record).
        contract.QUERY_ID: f"{qa_id}-{language}" if qa_id not in (None, "") else "",
        contract.ITEM_ID: item_id,
        "title": sentence,
        contract.LANGUAGE: language,
        contract.GRADE: grade,
    }
