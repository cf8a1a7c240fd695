"""A real Transform output (the student's preprocessing_fn, analysed by tf.Transform's
Beam pipeline) over a few in-memory rows, as TFX's Transform writes it."""

import os
import tempfile

import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import metadata_io

from relevance import contract
from trainer.student.preprocessing import preprocessing_fn


def build_transform_output(rows, output_dir: str) -> str:
    """Analyses `rows` (dicts of raw features: a string or a list of strings each) and
    writes the transform graph and the raw schema to `output_dir`, which it returns."""
    spec = {
        name: tf.io.VarLenFeature(tf.string)
        for name in contract.SCALAR_STRING_FEATURES + contract.LIST_STRING_FEATURES
    }
    spec[contract.GRADE] = tf.io.VarLenFeature(tf.int64)
    metadata = tft.DatasetMetadata.from_feature_spec(spec)
    instances = [
        {k: (v if isinstance(v, list) else [v]) for k, v in row.items()} | {"grade": []}
        for row in rows
    ]
    with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        transform_fn = (instances, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    # TFX's Transform writes the raw schema too; TFTransformOutput.raw_feature_spec reads it.
    metadata_io.write_metadata(metadata, os.path.join(output_dir, "metadata"))
    return output_dir
