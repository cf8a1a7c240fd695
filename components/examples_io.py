"""Reading and writing the tf.Example artifacts of the project's Beam components.

The PseudoLabeler and the ImageCaptioner both read an Examples artifact split by split
and write one with the same payload, plus a counts JSON beside the splits.

Example:

    patterns = split_file_patterns(examples, "PseudoLabeler", required=("train", "eval"))
    ...  # run the Beam graph over `patterns`
    finish_examples_output(output, "pseudo_label_counts.json", report.to_json())
"""

import posixpath
from typing import Dict, List, Optional, Sequence

import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils


def split_file_patterns(
    examples: types.Artifact, reader: str, required: Optional[Sequence[str]] = None
) -> Dict[str, List[str]]:
    """File patterns per split: the `required` splits, or every split the artifact has.

    Raises:
        ValueError: the payload is not tf.Example, or a required split is missing;
            `reader` (the component's name) is named in the message.
    """
    payload_format = examples_utils.get_payload_format(examples)
    if payload_format != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE:
        raise ValueError(
            f"{reader} reads tf.Examples; input payload format is "
            f"{example_gen_pb2.PayloadFormat.Name(payload_format)}"
        )
    available = artifact_utils.decode_split_names(examples.split_names)
    splits = list(required) if required is not None else available
    missing = [split for split in splits if split not in available]
    if missing:
        raise ValueError(
            f"examples at {examples.uri} lack splits {missing} (has {available}); "
            f"{reader} needs {splits}"
        )
    return {split: examples_utils.get_split_file_patterns([examples], split) for split in splits}


def finish_examples_output(output: types.Artifact, counts_file_name: str, counts_json: str) -> None:
    """Writes the counts file beside the splits and marks the output gzipped tf.Examples."""
    with tf.io.gfile.GFile(posixpath.join(output.uri, counts_file_name), "w") as counts_file:
        counts_file.write(counts_json)
    examples_utils.set_payload_format(output, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(output, "tfrecords_gzip")
