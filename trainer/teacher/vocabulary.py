"""A SentencePiece vocabulary for the default teacher, learned from corpus word counts.

The Transform component writes the vocabulary "corpus_word_counts" (lines
"<count> <word>", lower-cased words over all text in all languages, unlabeled rows
included). A BPE SentencePiece model with byte fallback is trained on those counts
in-process: scripts never seen in training still tokenize to byte pieces, never <unk>.
(BPE, not unigram: on word-count input the unigram trainer leaves frequent words split
into single characters, e.g. "title" -> "▁ t i t l e", which multiplies the sequence
length and hides the words from a small model.) The punctuation of the item text
(field markers "title: ...", separators " | " and "; ", the query-match marker) is
kept as single pieces.
Special ids follow the fairseq / XLM-R layout (<unk>=0, <s>=1, </s>=2) expected by
`keras_hub.models.XLMRobertaTokenizer`.

Example:

>>> proto = train_sentencepiece([("red", 9), ("shoes", 5)], vocabulary_size=300)
>>> import keras_hub
>>> tokenizer = keras_hub.models.XLMRobertaTokenizer(proto=proto)
>>> unknown_token_rate(tokenizer, ["κόκκινα παπούτσια"])
0.0
"""

import collections
import io
import logging
import os
import tempfile
from typing import Iterable, List, Optional, Sequence, Tuple

import sentencepiece
from sentencepiece import sentencepiece_model_pb2
import tensorflow as tf

from relevance import contract
from models import export
from trainer.teacher import item_text

WORD_COUNTS_VOCABULARY = "corpus_word_counts"
# The most frequent words are plenty for a few thousand pieces; more only slows training.
MAX_WORDS = 200_000
MAX_EXAMPLES_COUNTED = 200_000
# Byte fallback adds 256 byte pieces plus the meta pieces and the seen characters.
MIN_VOCABULARY_SIZE = 300

# The punctuation the item text builder adds; whole pieces instead of byte fallback.
ITEM_TEXT_PUNCTUATION = tuple(sorted({
    char
    for text in (item_text.FIELD_SEPARATOR, item_text.LIST_ENTRY_SEPARATOR, ": ",
                 item_text.MATCH_MARKER)
    for char in text.strip()
}))

WordCounts = List[Tuple[str, int]]


def _vocabulary_lines(path: str) -> Iterable[bytes]:
    if path.endswith(".tfrecord.gz"):  # TFT's file_format="tfrecord_gzip"
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            yield record.numpy()
    else:
        with tf.io.gfile.GFile(path, "rb") as lines:
            yield from lines


def read_word_counts(path: str, max_words: int = MAX_WORDS) -> WordCounts:
    """Reads a TFT vocabulary written with frequencies ("<count> <word>" lines)."""
    counts = collections.Counter()
    for raw_line in _vocabulary_lines(path):
        line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
        count, _, word = line.partition(" ")
        word = word.strip()
        if not word or "\t" in word:
            continue
        try:
            counts[word] += max(1, int(round(float(count))))
        except ValueError:
            continue
    return counts.most_common(max_words)


def count_words_in_examples(
    file_patterns: Sequence[str],
    lowercase: bool = True,
    max_examples: int = MAX_EXAMPLES_COUNTED,
    batch_size: int = 1024,
) -> WordCounts:
    """Counts words of the query and every item field in gzip TFRecords of tf.Examples.

    The fallback when Transform's word counts are not available.
    """
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no files match {list(file_patterns)}")
    dataset = (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .take(max_examples)
        .batch(batch_size)
    )
    counts = collections.Counter()
    for serialized in dataset:
        raw = export.raw_features_from_examples(serialized)
        for name in contract.RAW_SIGNATURE_INPUTS:
            text = tf.strings.lower(raw[name], encoding="utf-8") if lowercase else raw[name]
            counts.update(tf.strings.split(tf.reshape(text, [-1])).flat_values.numpy())
    return [(w.decode("utf-8", errors="replace"), c) for w, c in counts.most_common(MAX_WORDS)]


def corpus_word_counts(transform_output: Optional[str], train_files: Sequence[str],
                       lowercase: bool = True) -> WordCounts:
    """Transform's "corpus_word_counts" when there is one, else counts over `train_files`."""
    if transform_output:
        import tensorflow_transform as tft  # only needed when Transform ran

        path = tft.TFTransformOutput(transform_output).vocabulary_file_by_name(
            WORD_COUNTS_VOCABULARY
        )
        counts = read_word_counts(path) if path else []
        if counts:
            return counts
        logging.warning("no non-empty %s vocabulary in %s; counting words in the "
                        "training files", WORD_COUNTS_VOCABULARY, transform_output)
    return count_words_in_examples(train_files, lowercase=lowercase)


def train_sentencepiece(
    word_counts: Iterable[Tuple[str, int]],
    vocabulary_size: int = 4000,
    seed: int = 13,
    character_coverage: float = 0.9995,
) -> bytes:
    """Trains a BPE SentencePiece model with byte fallback; returns the proto bytes.

    `vocabulary_size` is a target: with few distinct words the model comes out smaller
    (hard_vocab_limit=False). Training is deterministic for a given input and seed.
    """
    word_counts = [(w, int(c)) for w, c in word_counts if w and int(c) > 0]
    top_count = max([c for _, c in word_counts] or [1])
    # The field markers appear in every item text; seeing them keeps them whole pieces.
    markers = {word for marker in item_text.FIELD_MARKERS.values() for word in marker.split()}
    known = {w for w, _ in word_counts}
    word_counts += [(m, top_count) for m in sorted(markers - known)]
    # BPE needs a piece for every kept character besides the byte and meta pieces.
    characters = {char for word, _ in word_counts for char in word}
    vocab_size = max(MIN_VOCABULARY_SIZE, int(vocabulary_size),
                     MIN_VOCABULARY_SIZE + len(ITEM_TEXT_PUNCTUATION) + len(characters))
    with tempfile.TemporaryDirectory() as tmp:
        tsv = os.path.join(tmp, "word_counts.tsv")
        with open(tsv, "w", encoding="utf-8") as out:
            for word, count in word_counts:
                out.write(f"{word}\t{count}\n")
        sentencepiece.set_random_generator_seed(seed)
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            input=tsv,
            input_format="tsv",
            model_writer=model,
            model_type="bpe",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            byte_fallback=True,
            character_coverage=character_coverage,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            user_defined_symbols=list(ITEM_TEXT_PUNCTUATION),
            num_threads=1,
            minloglevel=2,
        )
    # The proto records its training input; that temporary path would make otherwise
    # identical vocabularies (and the exported graphs holding them) differ.
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    proto.trainer_spec.ClearField("input")
    return proto.SerializeToString(deterministic=True)


def unknown_token_rate(tokenizer, texts: Sequence[str]) -> float:
    """Fraction of the tokens of `texts` that are the tokenizer's unknown token."""
    unk_id = getattr(tokenizer, "unk_token_id", None)
    if unk_id is None:
        unk_id = tokenizer.token_to_id("<unk>")
    # Inside a tf.function keras-hub tokenizers take their TF path: one ragged result.
    token_ids = tf.function(tokenizer)(tf.constant(list(texts)))
    flat = token_ids.flat_values if isinstance(token_ids, tf.RaggedTensor) else token_ids
    total = int(tf.size(flat))
    if total == 0:
        return 0.0
    return float(tf.reduce_sum(tf.cast(tf.equal(flat, unk_id), tf.int64))) / total
