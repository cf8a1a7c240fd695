"""Serving signatures shared by every exported relevance model.

A model is a function from a *raw feature dict* to grade probabilities. The raw feature
dict maps each name in `contract.RAW_SIGNATURE_INPUTS` to a `tf.string` vector with one
entry per candidate; list fields hold their entries joined by `contract.LIST_SEPARATOR`.
`RelevanceServingModule` wraps such a function with the two signatures every model
carries, so the pseudo-labeler, the Evaluator and the server never care which model
they hold.

Example:

>>> import tensorflow as tf
>>> def uniform(raw):
...     n = tf.shape(raw["title"])[0]
...     return tf.fill([n, 5], 0.2)
>>> module = RelevanceServingModule(uniform, num_grades=5)
>>> out = module.serve_raw(query=tf.constant(["red shoes"]),
...     **{f: tf.constant(["a", "b"]) for f in contract.ITEM_TEXT_FIELDS})
>>> out["score"].numpy().tolist()
[3.0, 3.0]
"""

from typing import Callable, Dict

import tensorflow as tf

from relevance import contract

RawFeatures = Dict[str, tf.Tensor]
PredictFn = Callable[[RawFeatures], tf.Tensor]


def expected_score(probabilities: tf.Tensor) -> tf.Tensor:
    """Expected grade: sum_k p_k * (k + 1), in [1, G]."""
    num_grades = tf.shape(probabilities)[-1]
    grades = tf.cast(tf.range(1, num_grades + 1), probabilities.dtype)
    return tf.reduce_sum(probabilities * grades, axis=-1)


def raw_features_from_examples(serialized: tf.Tensor) -> RawFeatures:
    """Parses serialized canonical tf.Examples into the raw feature dict."""
    spec = {
        name: tf.io.FixedLenFeature([], tf.string, default_value="")
        for name in (contract.QUERY,) + contract.ITEM_SCALAR_TEXT_FIELDS
    }
    spec.update(
        {name: tf.io.VarLenFeature(tf.string) for name in contract.ITEM_LIST_TEXT_FIELDS}
    )
    parsed = tf.io.parse_example(serialized, spec)
    for name in contract.ITEM_LIST_TEXT_FIELDS:
        ragged = tf.RaggedTensor.from_sparse(parsed[name])
        parsed[name] = tf.strings.reduce_join(
            ragged, axis=1, separator=contract.LIST_SEPARATOR
        )
    return parsed


def broadcast_query(raw: RawFeatures) -> RawFeatures:
    """Repeats a single query over all candidates; checks every field has N entries."""
    num_candidates = tf.shape(raw["title"])[0]
    query = raw[contract.QUERY]
    query = tf.cond(
        tf.logical_and(tf.size(query) == 1, num_candidates != 1),
        lambda: tf.fill([num_candidates], query[0]),
        lambda: query,
    )
    checks = [
        tf.debugging.assert_equal(
            tf.shape(raw[name])[0],
            num_candidates,
            message=f"input '{name}' must have one entry per candidate (as many as 'title')",
        )
        for name in contract.ITEM_TEXT_FIELDS
    ]
    checks.append(
        tf.debugging.assert_equal(
            tf.shape(query)[0],
            num_candidates,
            message="input 'query' must have 1 entry or one per candidate",
        )
    )
    with tf.control_dependencies(checks):
        out = {name: tf.identity(raw[name]) for name in contract.ITEM_TEXT_FIELDS}
        out[contract.QUERY] = tf.identity(query)
    return out


class RelevanceServingModule(tf.Module):
    """Holds a relevance model and exposes the raw-text and serialized-example signatures.

    Args:
        predict_fn: maps a raw feature dict (see module docstring) to probabilities [N, G].
        num_grades: G, the number of relevance grades.
        trackables: objects the SavedModel must keep (Keras models, lookup tables, TFT
            layers), so their variables and assets are saved.

    `embedding_dims` D > 0 (a student with item embeddings) adds the
    `contract.SIGNATURE_EMBEDDED` signature, passes a row's `item_embedding` (that
    signature's `[N, D]` input, or a serialized example's float list) to `predict_fn` in
    the raw dict, and lets `predict_fn` return a dict of outputs (probabilities and
    `contract.OUTPUT_EMBEDDING_USED`) instead of the probabilities alone.

    Example:

    >>> import tensorflow as tf
    >>> module = RelevanceServingModule(
    ...     lambda raw: tf.one_hot(tf.zeros_like(tf.strings.length(raw["title"])), 4),
    ...     num_grades=4)
    >>> module.serve_examples(tf.constant([b""]))["probabilities"].shape.as_list()
    [1, 4]
    """

    def __init__(self, predict_fn: PredictFn, num_grades: int, trackables=None,
                 embedding_dims: int = 0):
        super().__init__()
        self._predict_fn = predict_fn
        self.num_grades = tf.Variable(num_grades, trainable=False, dtype=tf.int32)
        self.trackables = [item for item in (trackables or []) if item is not None]
        self.embedding_dims = int(embedding_dims)
        if self.embedding_dims:
            # Only then: tf.saved_model.save traces every tf.function the module holds,
            # and a model without embeddings should not pay for (or carry) this one.
            self.serve_embedded = tf.function(self._serve_embedded, input_signature=[
                tf.TensorSpec([None], tf.string, name=name)
                for name in contract.RAW_SIGNATURE_INPUTS
            ] + [tf.TensorSpec([None, None], tf.float32, name=contract.ITEM_EMBEDDING)])
            # Saved, so that a client of the loaded model can read D.
            self.item_embedding_width = tf.Variable(self.embedding_dims, trainable=False,
                                                    dtype=tf.int32)

    def _outputs(self, raw: RawFeatures) -> Dict[str, tf.Tensor]:
        features = broadcast_query(raw)
        if self.embedding_dims and contract.ITEM_EMBEDDING in raw:
            features[contract.ITEM_EMBEDDING] = raw[contract.ITEM_EMBEDDING]
        result = self._predict_fn(features)
        outputs = dict(result) if isinstance(result, dict) else {
            contract.OUTPUT_PROBABILITIES: result}
        probabilities = tf.cast(outputs[contract.OUTPUT_PROBABILITIES], tf.float32)
        outputs.update({contract.OUTPUT_PROBABILITIES: probabilities,
                        contract.OUTPUT_SCORE: expected_score(probabilities)})
        return outputs

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=name)
            for name in contract.RAW_SIGNATURE_INPUTS
        ]
    )
    def serve_raw(
        self,
        query,
        title,
        description,
        image_caption,
        link_title,
        link_description,
        engaged_queries,
        board_titles,
    ):
        raw = dict(
            query=query,
            title=title,
            description=description,
            image_caption=image_caption,
            link_title=link_title,
            link_description=link_description,
            engaged_queries=engaged_queries,
            board_titles=board_titles,
        )
        return self._outputs(raw)

    def _serve_embedded(self, query, title, description, image_caption, link_title,
                        link_description, engaged_queries, board_titles, item_embedding):
        raw = dict(query=query, title=title, description=description,
                   image_caption=image_caption, link_title=link_title,
                   link_description=link_description, engaged_queries=engaged_queries,
                   board_titles=board_titles, item_embedding=item_embedding)
        return self._outputs(raw)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        raw = raw_features_from_examples(examples)
        if self.embedding_dims:
            parsed = tf.io.parse_example(
                examples, {contract.ITEM_EMBEDDING: tf.io.VarLenFeature(tf.float32)})
            raw[contract.ITEM_EMBEDDING] = tf.RaggedTensor.from_sparse(
                parsed[contract.ITEM_EMBEDDING])
        return self._outputs(raw)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def grade_labels(self, examples):
        """Class index (grade - 1, or -1 without a grade): TFMA's label for evaluation."""
        parsed = tf.io.parse_example(
            examples, {contract.GRADE: tf.io.FixedLenFeature([], tf.int64, default_value=0)}
        )
        return {contract.LABEL_CLASS: parsed[contract.GRADE] - 1}

    def signatures(self):
        signatures = {
            contract.SIGNATURE_RAW: self.serve_raw.get_concrete_function(),
            contract.SIGNATURE_EXAMPLES: self.serve_examples.get_concrete_function(),
            contract.SIGNATURE_LABELS: self.grade_labels.get_concrete_function(),
        }
        if self.embedding_dims:
            signatures[contract.SIGNATURE_EMBEDDED] = self.serve_embedded.get_concrete_function()
        return signatures


def load_relevance_model(export_dir: str):
    """Loads any exported relevance model (teacher or student) for inference.

    Teachers built on keras-hub tokenizers use TF-Text ops (e.g. SentencepieceOp), which
    are registered only once `tensorflow_text` is imported; students need core ops only.
    """
    import tensorflow_text  # noqa: F401  (registers the ops a teacher graph may use)

    return tf.saved_model.load(export_dir)


def save_serving_module(module: RelevanceServingModule, export_dir: str) -> str:
    """Writes `module` as a SavedModel with its signatures and TF Serving warmup requests.

    The warmup requests (`assets.extra/tf_serving_warmup_requests`) travel with the
    model through the Pusher, so TF Serving warms every pushed version before traffic.
    Returns `export_dir`.
    """
    from models.export_layout import write_warmup_requests

    tf.saved_model.save(module, export_dir, signatures=module.signatures())
    write_warmup_requests(export_dir, model_name="relevance")
    return export_dir
