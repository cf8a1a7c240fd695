"""The canonical (query, item) record and the conventions every component shares.

One record describes one (query, item) pair, labeled or not. Readers turn CSV, JSONL
and TFRecord rows into this record; ExampleGen writes it as a `tf.Example`; models read
it back through the signatures described at the bottom of this module.

| field              | kind            | notes                                                    |
|--------------------|-----------------|----------------------------------------------------------|
| query              | string          | required, non-empty                                      |
| query_id           | string          | derived from the query text when absent                  |
| item_id            | string          | required                                                 |
| title              | string          | item text (at least one item text field is required)     |
| description        | string          | item text                                                |
| image_caption      | string          | item text, from a vision-language model                  |
| link_title         | string          | item text, landing page title                            |
| link_description   | string          | item text, landing page description                      |
| engaged_queries    | list of strings | item text, queries that engaged with the item            |
| board_titles       | list of strings | item text, boards / collections the item was saved to    |
| image              | string          | optional path or URI of the item image (not item text)   |
| image_bytes        | bytes           | optional encoded item image (not item text)              |
| language           | string          | optional: detected from the text when absent             |
| grade              | int 1..G        | optional: 1 = highly irrelevant ... G = highly relevant   |
| num_<name>         | float           | optional numeric features, e.g. num_engagement_rate      |
"""

DEFAULT_NUM_GRADES = 5

QUERY = "query"
QUERY_ID = "query_id"
ITEM_ID = "item_id"
LANGUAGE = "language"
GRADE = "grade"

# Item text fields in the order the teacher reads them.
ITEM_SCALAR_TEXT_FIELDS = (
    "title",
    "description",
    "image_caption",
    "link_title",
    "link_description",
)
ITEM_LIST_TEXT_FIELDS = ("engaged_queries", "board_titles")
ITEM_TEXT_FIELDS = ITEM_SCALAR_TEXT_FIELDS + ITEM_LIST_TEXT_FIELDS

# The item image, as a path / URI or as encoded bytes (PNG, JPEG, GIF, BMP). Optional, not
# item text: models never read it; the ImageCaptioner turns it into `image_caption`.
# Written to a tf.Example only when set. In CSV / JSONL, `image_bytes` is base64 text.
IMAGE = "image"
IMAGE_BYTES = "image_bytes"
IMAGE_FIELDS = (IMAGE, IMAGE_BYTES)

# Every string feature that is always present (possibly empty) in a written tf.Example.
SCALAR_STRING_FEATURES = (QUERY, QUERY_ID, ITEM_ID, LANGUAGE) + ITEM_SCALAR_TEXT_FIELDS
# Multi-valued string features (zero or more values).
LIST_STRING_FEATURES = ITEM_LIST_TEXT_FIELDS

NUMERIC_FEATURE_PREFIX = "num_"

# Features added by the ItemEmbedder: the pretrained encoder's embeddings, reduced to D
# floats in one space (components/item_embedder).
ITEM_EMBEDDING = "item_embedding"  # float [D]: the item text's ("passage: ..." side)
QUERY_EMBEDDING = "query_embedding"  # float [D]: the query's ("query: ..." side)
# Optional in every record and input row (a list of floats; [] when absent).
EMBEDDING_FEATURES = (ITEM_EMBEDDING, QUERY_EMBEDDING)

# Features added by the pseudo-labeling component to the student's training corpus.
SOFT_LABEL = "soft_label"  # float [G]: the teacher's distribution (human rows keep `grade` too)
TEACHER_SCORE = "teacher_score"  # float: expected grade under the teacher
TEACHER_CONFIDENCE = "teacher_confidence"  # float: max class probability
TEACHER_MODEL = "teacher_model"  # bytes: identity (URI) of the teacher that labeled it
LABEL_SOURCE = "label_source"  # bytes: "human" or "pseudo"
LABEL_SOURCE_HUMAN = "human"
LABEL_SOURCE_PSEUDO = "pseudo"
# Evaluation features, written by the pseudo-labeling component on every output row so
# that every evaluated model (the student, the teacher, a previously pushed model, the
# BM25 baseline) is sliced and labeled by the data, not by its own export code.
# "title+description+image_caption": the non-empty item text fields, in contract order.
FIELDS_PRESENT = "fields_present"
# The grade evaluation compares against: the human grade on human rows, the teacher's
# argmax grade on pseudo-labeled rows.
REFERENCE_GRADE = "reference_grade"

# Splits written by ExampleGen and by the pseudo-labeling component.
SPLIT_TRAIN = "train"
SPLIT_EVAL = "eval"
SPLIT_UNLABELED = "unlabeled"
# Where the staged input files lie under ExampleGen's input base (`relevance run` stages).
LABELED_DIR = "labeled"
UNLABELED_DIR = "unlabeled"

# In the raw-text signatures every field is a string vector with one entry per
# candidate; list fields are passed as one string per candidate, entries joined by this.
LIST_SEPARATOR = "\n"

# Signatures every exported model (teacher, student) carries.
SIGNATURE_RAW = "serving_default"  # inputs: the string fields above; outputs below
SIGNATURE_EXAMPLES = "serving_examples"  # input "examples": serialized tf.Example [N]
# A student with item embeddings also carries: the raw inputs plus ITEM_EMBEDDING
# float [N, D]; and answers OUTPUT_EMBEDDING_USED float [N] (1: the row's embedding was
# used; 0: it had none or another width, and was scored without it).
SIGNATURE_EMBEDDED = "serving_embedded"
OUTPUT_EMBEDDING_USED = "item_embedding_used"
# Evaluation helper: serialized tf.Example [N] -> "label": class index grade-1 (-1 if none).
SIGNATURE_LABELS = "grade_labels"
LABEL_CLASS = "label"
OUTPUT_PROBABILITIES = "probabilities"  # float [N, G]; class k is grade k + 1
OUTPUT_SCORE = "score"  # float [N]: expected grade, sum_k p_k * (k + 1), in [1, G]

RAW_SIGNATURE_INPUTS = (QUERY,) + ITEM_TEXT_FIELDS


def grade_to_class(grade: int) -> int:
    """Grade 1..G to class index 0..G-1."""
    return int(grade) - 1


def class_to_grade(class_index: int) -> int:
    """Class index 0..G-1 to grade 1..G."""
    return int(class_index) + 1
