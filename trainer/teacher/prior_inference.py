"""The teacher's inference with the similarity prior, each distinct text encoded once.

In training the network encodes the query and the item for the prior once per pair (the
frozen passes have no backward and the batches are shuffled). In search traffic a query
comes with dozens of candidates and an item comes back under many queries, so at
inference the prior's passes repeat work: `PriorInference` splits the trained network
into the parts it is made of, sharing their variables,

* the pair branch up to the head's logits (`head_model`),
* the prior's encoder: the frozen backbone's L2-normalised masked mean (`encoder`),
* the prior's Dense over the cosine (`prior_dense`),

and computes

    logits = head(pair) + prior_dense(<encoder(unique queries)[i], encoder(unique items)[j]>)

encoding each distinct query and item text of a call once (`tf.unique`), each batch of
distinct texts cut to its own longest row. The result equals the network's to float
rounding (tests/test_teacher_backbones.py checks 1e-5); callers that put a query's
candidates in one call (the PseudoLabeler batches by query within a length bucket, a
served request is one query) pay for the query pass once.

Example (shapes only; `teacher` is a `TeacherModel` with the prior, see its docstring):

    inference = PriorInference.from_network(teacher.network, teacher.prior_tokenizer,
                                            teacher.prior_text_builder)
    logits = inference.logits(raw, pair_inputs)  # [N, G]
"""

from typing import Dict

import keras
import tensorflow as tf

from trainer.teacher import similarity_prior
from trainer.teacher.heads import sequence_output

PRIOR_BACKBONE = "prior_backbone"
HEAD_LOGITS = "logits"
PRIOR_LOGITS = "prior_logits"


def _trim(token_ids: tf.Tensor, mask: tf.Tensor):
    length = tf.maximum(tf.reduce_max(tf.reduce_sum(mask, axis=1)), 1)
    return token_ids[:, :length], mask[:, :length]


class PriorInference:
    """The prior's encoder, the pair branch's head and the prior's Dense of one trained
    teacher network, for inference that encodes each distinct text once.

    Args:
        head_model: the network's pair inputs -> the head's [N, G] logits.
        encoder: {"token_ids", "padding_mask"} -> [N, H] normalised mean vectors.
        prior_dense: the Dense(G) over the cosine.
        tokenizer: the `similarity_prior.PriorTokenizer`.
        text_builder: raw features -> (query text, item text) for the prior.
    """

    def __init__(self, head_model: keras.Model, encoder: keras.Model, prior_dense,
                 tokenizer, text_builder):
        self.head_model = head_model
        self.encoder = encoder
        self.prior_dense = prior_dense
        self.tokenizer = tokenizer
        self.text_builder = text_builder

    @classmethod
    def from_network(cls, network: keras.Model, tokenizer, text_builder) -> "PriorInference":
        """Splits a network built by `heads.build_cross_encoder` with a prior backbone."""
        backbone = network.get_layer(PRIOR_BACKBONE)
        prefixes = (similarity_prior.QUERY_PREFIX, similarity_prior.ITEM_PREFIX)
        pair_inputs = {name: tensor for name, tensor in network.input.items()
                       if not name.startswith(prefixes)}
        head_model = keras.Model(pair_inputs, network.get_layer(HEAD_LOGITS).output,
                                 name="teacher_pair_head")
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        branch = {"token_ids": token_ids, "padding_mask": padding_mask}
        if "segment_ids" in backbone.input:
            branch["segment_ids"] = keras.ops.zeros_like(token_ids)
        vectors = similarity_prior.NormalizedMean(name="prior_mean")(
            sequence_output(backbone, branch, False), padding_mask)
        encoder = keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, vectors,
                              name="prior_encoder")
        return cls(head_model, encoder, network.get_layer(PRIOR_LOGITS), tokenizer,
                   text_builder)

    def encode(self, group: str, texts: tf.Tensor) -> tf.Tensor:
        """[N, H] float32 prior vectors of `texts`, each distinct text encoded once."""
        unique, index = tf.unique(texts)
        token_ids, mask = _trim(*self.tokenizer.encode(group, unique))
        vectors = self.encoder({"token_ids": token_ids, "padding_mask": mask}, training=False)
        return tf.gather(tf.cast(vectors, tf.float32), index)

    def logits(self, raw: Dict[str, tf.Tensor], pair_inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        """[N, G] float32 logits of the whole teacher (head plus prior)."""
        queries, items = self.text_builder(raw)
        cosine = tf.reduce_sum(self.encode(similarity_prior.QUERY_PREFIX, queries)
                               * self.encode(similarity_prior.ITEM_PREFIX, items),
                               axis=-1, keepdims=True)
        head = tf.cast(self.head_model(pair_inputs, training=False), tf.float32)
        return head + tf.cast(self.prior_dense(cosine), tf.float32)
