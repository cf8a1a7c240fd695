"""Examples the captioner must not write: items that still have no text after captioning.

ExampleGen lets an item with an image but no text through when images are captioned
(`to_record(..., image_only_items=True)`); its caption becomes its text. When that fails
(unreadable image, model error, empty caption) the item has no text at all and no model
may read it, so the captioner sets it aside under `<output uri>/quarantine/` as JSON
lines shaped like ExampleGen's quarantine entries, in `quarantine-SSSSS-of-NNNNN.jsonl`
shards written by `sharded_writer.WriteDeterministicShards` (format `JSON_LINES`): re-runs
are byte-identical, and no worker holds more than one shard, however many items fail.

Example:

>>> import tensorflow as tf
>>> example = tf.train.Example()
>>> example.features.feature["item_id"].bytes_list.value.append(b"i1")
>>> has_item_text(example)
False
>>> json.loads(quarantine_entry("train", example, "unreadable_image"))["reason"]
'no_item_text_after_captioning'

    (quarantine_dir("/out/captioned"), line_bytes) pairs | WriteDeterministicShards(
        "/out/_tmp", shard_format=sharded_writer.JSON_LINES)
"""

import hashlib
import json
import posixpath
from typing import Dict, List

import tensorflow as tf

from components.example_gen.executor import QUARANTINE_DIR
from relevance import contract
from relevance.record_parsing import example_to_dict
from relevance.records import example_text_fields

REASON = "no_item_text_after_captioning"


def has_item_text(example: tf.train.Example) -> bool:
    """Whether any item text field (image_caption included) has a non-blank value."""
    return bool(example_text_fields(example))


def _fields(example: tf.train.Example) -> Dict:
    fields = example_to_dict(example)
    data = fields.pop(contract.IMAGE_BYTES, None)
    if data:
        # The image itself stays in the input; a fingerprint identifies it without
        # making the quarantine shards as large as the images.
        data = data if isinstance(data, bytes) else b"".join(data)
        fields[contract.IMAGE_BYTES] = {
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return fields


def quarantine_entry(split: str, example: tf.train.Example, caption_outcome: str) -> str:
    """One JSON line: split, item_id, query, reason, caption outcome, message, fields."""
    fields = _fields(example)
    entry = {
        "split": split,
        "item_id": fields.get(contract.ITEM_ID, ""),
        "query": fields.get(contract.QUERY, ""),
        "reason": REASON,
        "caption_outcome": caption_outcome,
        "message": (
            f"the item has no text and captioning gave it none ({caption_outcome}); "
            "fix its image or add text such as a title"
        ),
        "fields": fields,
    }
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str)


def quarantine_dir(output_uri: str) -> str:
    return posixpath.join(output_uri, QUARANTINE_DIR)


def quarantine_pattern(output_uri: str) -> str:
    """Glob of the quarantine shards (there is always at least one, maybe empty)."""
    return posixpath.join(quarantine_dir(output_uri), "quarantine-*.jsonl")


def read_quarantine(output_uri: str) -> List[Dict]:
    """The entries the captioner quarantined in the run that wrote `output_uri`."""
    entries = []
    for path in sorted(tf.io.gfile.glob(quarantine_pattern(output_uri))):
        with tf.io.gfile.GFile(path) as handle:
            entries += [json.loads(line) for line in handle if line.strip()]
    return entries
