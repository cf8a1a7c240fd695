"""A deterministic, multilingual product-search demo dataset with learnable grades.

Items and queries are built from a small attribute grammar (category, colour,
material, style) rendered through a per-language lexicon, so relevance can be learnt
from the text alone:

| grade | candidate item                                          |
|-------|---------------------------------------------------------|
| 5     | same category, colour and material as the query          |
| 4     | same category and one of colour / material               |
| 3     | same category only                                       |
| 2     | a related category (same group, e.g. shoes vs. boots)    |
| 1     | an unrelated category                                    |

About 10% of the human grades are moved by +/-1 to mimic rater noise. With a scale
other than 5 grades, grades are mapped linearly onto 1..G.

`labeled.jsonl` holds English queries only (human raters are English-speaking);
`unlabeled.csv` holds every language, English included, and no grade column. Image
captions are English in every language because they come from a vision-language model.
Many items also name a small generated image (`image`, relative to the data directory;
see `demo.images`), mostly items without a caption, for the image captioner.
"""

import csv
import io
import json
import logging
import os
import random
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from demo.images import image_reference, write_demo_images
from demo.lexicon import BACKGROUNDS, LANGUAGES, LEXICON, SHOPS
from relevance import contract

logger = logging.getLogger(__name__)


NUM_ENGAGEMENT_RATE = contract.NUMERIC_FEATURE_PREFIX + "engagement_rate"
COLUMNS = (
    (contract.QUERY_ID, contract.QUERY, contract.ITEM_ID, contract.LANGUAGE)
    + contract.ITEM_TEXT_FIELDS
    + (NUM_ENGAGEMENT_RATE, contract.IMAGE)
)
LABELED_LANGUAGE = "en"

# Group of each category, indexed like LEXICON[...]["category"]; same group = related.
CATEGORY_GROUPS = (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4)
_NUM_COLOURS = 8
_NUM_MATERIALS = 8
_NUM_STYLES = 6
_MAX_DISTINCT_QUERIES = len(CATEGORY_GROUPS) * _NUM_COLOURS * _NUM_MATERIALS
_LABEL_NOISE = 0.10
_EXPLICIT_LANGUAGE_SHARE = 0.10
_DERIVED_QUERY_ID_SHARE = 0.30

Attributes = Tuple[int, int, int, int]  # category, colour, material, style


def write_demo_data(
    out_dir: str,
    num_labeled: int,
    num_unlabeled: int,
    seed: int = 0,
    num_grades: int = contract.DEFAULT_NUM_GRADES,
) -> dict:
    """Write `labeled.jsonl` and `unlabeled.csv` under `out_dir`; return their paths.

    The images the items name are written to `out_dir/images/`. The same arguments
    always give byte-identical files.

    Example:
        >>> import tempfile
        >>> paths = write_demo_data(tempfile.mkdtemp(), num_labeled=20, num_unlabeled=30)
        >>> sorted(paths)
        ['labeled', 'unlabeled']
    """
    if num_grades < 2:
        raise ValueError(f"num_grades must be at least 2, got {num_grades}")
    # Images come from their own generators so the rest of the data does not change.
    labeled_rows = generate_rows(
        random.Random(f"labeled-{seed}"), num_labeled, (LABELED_LANGUAGE,), "L", num_grades,
        image_rng=random.Random(f"labeled-images-{seed}"),
    )
    unlabeled_rows = generate_rows(
        random.Random(f"unlabeled-{seed}"), num_unlabeled, LANGUAGES, "U", num_grades,
        image_rng=random.Random(f"unlabeled-images-{seed}"),
    )
    for row in unlabeled_rows:
        del row[contract.GRADE]

    tf.io.gfile.makedirs(out_dir)
    paths = {
        "labeled": os.path.join(out_dir, "labeled.jsonl"),
        "unlabeled": os.path.join(out_dir, "unlabeled.csv"),
    }
    write_demo_images(out_dir)
    _write_text(paths["labeled"], _to_jsonl(labeled_rows))
    _write_text(paths["unlabeled"], _to_csv(unlabeled_rows, random.Random(f"csv-{seed}")))
    logger.info(
        "wrote %d labeled rows to %s and %d unlabeled rows to %s",
        len(labeled_rows),
        paths["labeled"],
        len(unlabeled_rows),
        paths["unlabeled"],
    )
    return paths


def relevance_grade(query: Attributes, item: Attributes) -> int:
    """Return the noise-free 1..5 grade of `item` for `query` (attribute tuples).

    Example:
        >>> relevance_grade((0, 1, 2, 0), (0, 1, 2, 5))
        5
        >>> relevance_grade((0, 1, 2, 0), (1, 1, 2, 0))
        2
    """
    if item[0] != query[0]:
        return 2 if CATEGORY_GROUPS[item[0]] == CATEGORY_GROUPS[query[0]] else 1
    return 3 + (item[1] == query[1]) + (item[2] == query[2])


# ---------------------------------------------------------------- generation


def generate_rows(
    rng: random.Random, num_rows: int, languages: Tuple[str, ...], prefix: str, num_grades: int,
    image_rng: Optional[random.Random] = None,
) -> List[dict]:
    """`num_rows` graded rows (contract fields) for queries in `languages`, in turn.

    The generator behind `write_demo_data`, for callers that need more graded rows of
    the same distribution (e.g. a held-out test set per language). Grades carry the
    demo's label noise; ids start with `prefix`; `image_rng` adds image-only items.

    Example:

    >>> rows = generate_rows(random.Random(0), 12, ("de",), "T", 5)
    >>> len(rows), all(1 <= row["grade"] <= 5 for row in rows)
    (12, True)
    """
    rows: List[dict] = []
    used_queries: Dict[str, set] = {}
    query_index = 0
    while len(rows) < num_rows:
        language = languages[query_index % len(languages)]
        query_index += 1
        query = _new_query(rng, language, used_queries)
        query_text = _render(language, "query", query)
        query_id = "" if rng.random() < _DERIVED_QUERY_ID_SHARE else f"{prefix}-q{query_index:05d}"
        explicit_language = language if rng.random() < _EXPLICIT_LANGUAGE_SHARE else ""
        for target in _candidate_grades(rng):
            item = _item_for_grade(rng, query, target)
            true_grade = relevance_grade(query, item)
            grade = true_grade
            if rng.random() < _LABEL_NOISE:
                grade = min(5, max(1, grade + rng.choice((-1, 1))))
            row = {
                contract.QUERY_ID: query_id,
                contract.QUERY: query_text,
                contract.ITEM_ID: f"{prefix}{len(rows) + 1:06d}",
                contract.LANGUAGE: explicit_language,
            }
            row.update(_item_text(rng, language, item))
            row[NUM_ENGAGEMENT_RATE] = _engagement_rate(rng, true_grade)
            row[contract.IMAGE] = image_reference(
                image_rng, colour=item[1], group=CATEGORY_GROUPS[item[0]],
                has_caption=bool(row["image_caption"])) if image_rng else ""
            row[contract.GRADE] = _rescale(grade, num_grades)
            rows.append(row)
            if len(rows) == num_rows:
                break
    return rows


def _new_query(rng: random.Random, language: str, used: Dict[str, set]) -> Attributes:
    """Draw a query not used before in this language, so one text means one query.

    Only past ~960 queries per language (~10k rows) must texts repeat.
    """
    seen = used.setdefault(language, set())
    while True:
        query = (rng.randrange(len(CATEGORY_GROUPS)), rng.randrange(_NUM_COLOURS),
                 rng.randrange(_NUM_MATERIALS), rng.randrange(_NUM_STYLES))
        if query[:3] not in seen or len(seen) >= _MAX_DISTINCT_QUERIES:
            seen.add(query[:3])
            return query


def _candidate_grades(rng: random.Random) -> List[int]:
    """8-12 target grades per query: each grade at least once, the rest at random."""
    grades = [5, 4, 3, 2, 1]
    grades += rng.choices((5, 4, 3, 2, 1), weights=(2, 2, 2, 2, 3), k=rng.randint(3, 7))
    rng.shuffle(grades)
    return grades


def _other(rng: random.Random, value: int, size: int) -> int:
    return (value + rng.randrange(1, size)) % size


def _item_for_grade(rng: random.Random, query: Attributes, grade: int) -> Attributes:
    category, colour, material = query[0], query[1], query[2]
    style = rng.randrange(_NUM_STYLES)
    if grade == 4:
        if rng.random() < 0.5:
            return category, colour, _other(rng, material, _NUM_MATERIALS), style
        return category, _other(rng, colour, _NUM_COLOURS), material, style
    if grade == 3:
        return (category, _other(rng, colour, _NUM_COLOURS),
                _other(rng, material, _NUM_MATERIALS), style)
    if grade in (2, 1):
        group = CATEGORY_GROUPS[category]
        pool = [
            index for index, item_group in enumerate(CATEGORY_GROUPS)
            if index != category and (item_group == group) == (grade == 2)
        ]
        return (rng.choice(pool), rng.randrange(_NUM_COLOURS),
                rng.randrange(_NUM_MATERIALS), style)
    return category, colour, material, style


def _render(language: str, template_name: str, attrs: Attributes, **extra) -> str:
    words = LEXICON[language]
    category, colour, material, style = attrs
    return words[template_name].format(
        category=words["category"][category],
        colour=words["colour"][colour],
        material=words["material"][material],
        style=words["style"][style],
        group=words["group"][CATEGORY_GROUPS[category]],
        **extra,
    )


def _item_text(rng: random.Random, language: str, item: Attributes) -> Dict[str, object]:
    words = LEXICON[language]
    title = _render(language, "title", item)
    description = _render(language, "description", item, filler=rng.choice(words["filler"]))
    if rng.random() < 0.05:
        # A second paragraph: exercises multi-line quoted CSV fields.
        description += "\n" + rng.choice(words["filler"])
    shop = rng.choice(SHOPS)
    engaged = [_render(language, rng.choice(("query", "colour_query", "material_query")), item)
               for _ in range(rng.choice((0, 0, 1, 2, 3)))]
    boards = [_render(language, "board", item) for _ in range(rng.choice((0, 1, 1, 2)))]
    if rng.random() < 0.3:
        boards.append(rng.choice(words["favourites"]))
    text = {
        "title": title if rng.random() > 0.05 else "",
        "description": description if rng.random() > 0.15 else "",
        "image_caption": _render("en", "caption", item, background=rng.choice(BACKGROUNDS))
        if rng.random() > 0.2 else "",
        "link_title": "",
        "link_description": "",
        "engaged_queries": list(dict.fromkeys(engaged)),
        "board_titles": list(dict.fromkeys(boards)),
    }
    if rng.random() > 0.3:
        text["link_title"] = f"{title} | {shop}"
        text["link_description"] = _render(language, "link_description", item, shop=shop)
    if not any(text.values()):
        text["title"] = title
    return text


def _engagement_rate(rng: random.Random, true_grade: int) -> object:
    if rng.random() < 0.1:
        return None  # no engagement data for this item yet
    rate = 0.02 + 0.04 * (true_grade - 1) + rng.gauss(0.0, 0.03)
    return round(min(1.0, max(0.0, rate)), 4)


def _rescale(grade: int, num_grades: int) -> int:
    return 1 + round((grade - 1) * (num_grades - 1) / 4)


# ---------------------------------------------------------------- writing


def _to_jsonl(rows: List[dict]) -> str:
    lines = []
    for row in rows:
        record = {key: value for key, value in row.items()
                  if not (key == contract.LANGUAGE and not value)
                  and not (key == NUM_ENGAGEMENT_RATE and value is None)
                  and not (key == contract.IMAGE and not value)}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _to_csv(rows: List[dict], rng: random.Random) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            if column in contract.LIST_STRING_FEATURES:
                # Both documented list encodings appear in the demo file.
                use_json = rng.random() < 0.5
                value = json.dumps(value, ensure_ascii=False) if use_json and value \
                    else " | ".join(value)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return buffer.getvalue()


def _write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(text.encode("utf-8"))
