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

Example:
    >>> records, num_grades = load("xquad-r/es.json")  # doctest: +SKIP
    >>> record = next(records); record["language"], num_grades  # doctest: +SKIP
    ('es', 2)
"""

import json
import os
import re
from typing import Iterator, List, Optional, Tuple

from relevance import contract
from relevance.adapters._text import require_file
from relevance.errors import InputError
from relevance.language import normalise_language_code
from relevance.lazy_tensorflow import tf

NUM_GRADES = 2
_LANGUAGE_IN_NAME = re.compile(r"(?:^|[-_.])([a-z]{2})(?:[-_][a-z]{2})?$", re.IGNORECASE)


def load(
    path: str, language: Optional[str] = None, num_grades=NUM_GRADES
) -> Tuple[Iterator[dict], int]:
    """Return (raw record fields, G). `language` overrides the one in the file name."""
    num_grades = int(num_grades)
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
    documents = [(_file_language(name, language), _read_json(name)) for name in files]
    return _records(documents, num_grades), num_grades


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


def _read_json(path: str) -> List[tuple]:
    try:
        with tf.io.gfile.GFile(path, "r") as handle:
            document = json.load(handle)
        articles = document["data"]
        return [(article, article["paragraphs"]) for article in articles]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"{path}: not an XQuAD-R / SQuAD JSON file with data[].paragraphs[] ({err!r})."
        ) from err


def _records(documents, num_grades: int) -> Iterator[dict]:
    for language, articles in documents:
        for article_index, (_, paragraphs) in enumerate(articles):
            for paragraph_index, paragraph in enumerate(paragraphs):
                yield from _paragraph_records(
                    paragraph, language, f"{language}:{article_index}:{paragraph_index}",
                    num_grades,
                )


def _paragraph_records(paragraph, language, paragraph_key, num_grades) -> Iterator[dict]:
    sentences = paragraph["sentences"]
    breaks = paragraph["sentence_breaks"]
    for qa in paragraph["qas"]:
        starts = [answer["answer_start"] for answer in qa.get("answers", [])]
        for index, (sentence, (begin, end)) in enumerate(zip(sentences, breaks)):
            holds_answer = any(begin <= start < end for start in starts)
            yield {
                contract.QUERY: qa["question"],
                contract.QUERY_ID: f"{qa['id']}-{language}",
                contract.ITEM_ID: f"{paragraph_key}:{index}",
                "title": sentence,
                contract.LANGUAGE: language,
                contract.GRADE: num_grades if holds_answer else 1,
            }
