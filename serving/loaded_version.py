"""One version of a model held in memory, with the bookkeeping the registry needs."""

import os
from typing import Dict

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.errors import RequestRejected, shown
from serving.positional_signature import PositionalSignature
from models.export import load_relevance_model


class LoadedVersion:
    """A loaded SavedModel version: its signatures, their input specs and SignatureDefs.

    `leases` counts requests currently using this version; the registry drops the
    version only when it is retired and no request holds it any more.

    Example (a tiny model written by tests/support/serving_models.py):

    >>> import tempfile, os
    >>> from support.serving_models import write_lexical_model
    >>> path = write_lexical_model(os.path.join(tempfile.mkdtemp(), "1"))
    >>> version = LoadedVersion.load(1, path)
    >>> sorted(version.signature_names())
    ['grade_labels', 'serving_default', 'serving_examples']
    >>> version.input_specs("serving_examples")["examples"].dtype.name
    'string'
    """

    def __init__(self, version: int, path: str, model, signature_defs: Dict):
        self.version = version
        self.path = path
        self.model = model
        self.signature_defs = signature_defs  # name -> meta_graph_pb2.SignatureDef
        self.leases = 0
        self.retired = False
        # Traced here, once, so that requests never trace.
        self._positional = {
            name: PositionalSignature(function) for name, function in model.signatures.items()
        }

    @classmethod
    def load(cls, version: int, path: str) -> "LoadedVersion":
        model = load_relevance_model(path)
        return cls(version, path, model, _read_signature_defs(path))

    def signature_names(self):
        return list(self.model.signatures.keys())

    def signature(self, name: str):
        """The concrete function of a signature; NOT_FOUND when the model has no such one."""
        try:
            return self.model.signatures[name]
        except KeyError:
            raise self._unknown_signature(name) from None

    def positional(self, name: str) -> PositionalSignature:
        """The signature as a `PositionalSignature` (how requests call it); NOT_FOUND if unknown."""
        try:
            return self._positional[name]
        except KeyError:
            raise self._unknown_signature(name) from None

    def _unknown_signature(self, name: str) -> RequestRejected:
        return RequestRejected(
            grpc.StatusCode.NOT_FOUND,
            f"signature {shown(name)} not found in version {self.version}; "
            f"available: {', '.join(sorted(self.signature_names()))}",
        )

    def input_specs(self, name: str) -> Dict[str, tf.TensorSpec]:
        _, kwargs = self.signature(name).structured_input_signature
        return dict(kwargs)

    def output_names(self, name: str):
        return sorted(self.signature(name).structured_outputs.keys())


def _read_signature_defs(path: str) -> Dict[str, meta_graph_pb2.SignatureDef]:
    """SignatureDef protos straight from saved_model.pb (GetModelMetadata returns them)."""
    pb_path = os.path.join(path, "saved_model.pb")
    if not tf.io.gfile.exists(pb_path):
        return {}
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(pb_path, "rb") as f:
        saved_model.ParseFromString(f.read())
    if not saved_model.meta_graphs:
        return {}
    defs = saved_model.meta_graphs[0].signature_def
    return {name: defs[name] for name in defs if name != "__saved_model_init_op"}


def read_version_fingerprint(path: str):
    """(files, bytes, newest mtime) of a version directory: changes while it is being copied."""
    files = size = 0
    newest = 0.0
    for root, _, names in tf.io.gfile.walk(path):
        for name in names:
            stat = tf.io.gfile.stat(os.path.join(root, name))
            files += 1
            size += stat.length
            newest = max(newest, stat.mtime_nsec)
    return files, size, newest

