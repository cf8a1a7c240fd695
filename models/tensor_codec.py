"""TensorProto <-> numpy conversions shared by the client and the server.

Strings are the hot path (every relevance input is a string vector), so they are built
and read field by field instead of through `tf.make_tensor_proto`, which is slower.
"""

from typing import Iterable, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

Text = Union[str, bytes]


def to_bytes(value: Text) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def string_vector_proto(values: Iterable[Text]) -> tensor_pb2.TensorProto:
    """A 1-D DT_STRING TensorProto; str entries are UTF-8 encoded."""
    encoded = [to_bytes(v) for v in values]
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(encoded))]
        ),
        string_val=encoded,
    )


def proto_shape(proto: tensor_pb2.TensorProto) -> Tuple[int, ...]:
    """Declared shape of a TensorProto; raises ValueError for an unknown rank or size."""
    if proto.tensor_shape.unknown_rank:
        raise ValueError("tensor_shape has unknown rank")
    dims = tuple(int(d.size) for d in proto.tensor_shape.dim)
    if any(d < 0 for d in dims):
        raise ValueError(f"tensor_shape has an unknown dimension: {list(dims)}")
    return dims


def proto_dtype(proto: tensor_pb2.TensorProto) -> tf.DType:
    """The TensorProto's dtype; raises ValueError for DT_INVALID or an unknown enum."""
    try:
        dtype = tf.dtypes.as_dtype(proto.dtype)
    except TypeError as error:
        raise ValueError(f"unknown dtype enum {proto.dtype}") from error
    if proto.dtype == types_pb2.DT_INVALID:
        raise ValueError("dtype is not set (DT_INVALID)")
    return dtype


def proto_to_numpy(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Values of a TensorProto; ValueError when they do not fill the declared shape."""
    shape = proto_shape(proto)
    if proto.dtype == types_pb2.DT_STRING:
        values = list(proto.string_val)
        expected = int(np.prod(shape, dtype=np.int64))
        if len(values) != expected:
            raise ValueError(
                f"tensor_shape {list(shape)} needs {expected} strings but {len(values)} were sent"
            )
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    return tf.make_ndarray(proto)


def numpy_to_proto(array: Union[np.ndarray, tf.Tensor]) -> tensor_pb2.TensorProto:
    return tf.make_tensor_proto(array.numpy() if isinstance(array, tf.Tensor) else array)


def strings_of(array: np.ndarray) -> Sequence[bytes]:
    """Flat list of the entries of a string array."""
    return list(np.asarray(array, dtype=object).reshape(-1))
