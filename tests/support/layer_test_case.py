"""One check for a custom Keras layer, in the spirit of keras-hub's `run_layer_test`.

`run_layer_test` builds the layer from keyword arguments, calls it on tiny inputs and
checks, in turn:

* the output's shape and dtype, and `compute_output_shape` (what a functional model
  uses for symbolic inputs) against them;
* the config round trip: `from_config(get_config())` gives the same config, and with
  the first layer's weights the same outputs;
* save / load: a `keras.Model` holding the layer, saved to a `.keras` file and loaded
  back, gives the same outputs.

Inputs are positional call arguments (one array, or a tuple of them), batch first.

>>> import numpy as np
>>> import keras
>>> run_layer_test(keras.layers.Dense, {"units": 3}, np.ones((2, 4), "float32"),
...                expected_output_shape=(2, 3))
"""

import json
import os
import tempfile
from typing import Any, Mapping, Optional, Sequence, Tuple

import keras
import numpy as np


def _as_tuple(inputs) -> Tuple:
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _numpy(outputs) -> np.ndarray:
    return keras.ops.convert_to_numpy(outputs)


def _as_json(config: dict) -> dict:
    """A config as a .keras file stores it (tuples become lists)."""
    return json.loads(json.dumps(config))


def run_layer_test(layer_cls, init_kwargs: Mapping[str, Any], input_data,
                   expected_output_shape: Sequence[Optional[int]],
                   expected_output_dtype: str = "float32", atol: float = 1e-6,
                   run_save_load: bool = True) -> None:
    """Asserts the layer's shapes, dtypes, config round trip and save / load (see above)."""
    inputs = _as_tuple(input_data)
    layer = layer_cls(**init_kwargs)
    outputs = layer(*inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape), outputs.shape
    assert keras.backend.standardize_dtype(outputs.dtype) == expected_output_dtype, outputs.dtype
    computed = layer.compute_output_shape(*(tuple(x.shape) for x in inputs))
    assert tuple(computed) == tuple(expected_output_shape), computed

    config = layer.get_config()
    rebuilt = layer_cls.from_config(config)
    assert rebuilt.get_config() == config
    rebuilt(*inputs)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_allclose(_numpy(rebuilt(*inputs)), _numpy(outputs), atol=atol)

    if not run_save_load:
        return
    symbolic = [keras.Input(shape=x.shape[1:], batch_size=None,
                            dtype=keras.backend.standardize_dtype(x.dtype)) for x in inputs]
    symbolic_output = layer(*symbolic)
    assert tuple(symbolic_output.shape)[1:] == tuple(expected_output_shape)[1:], \
        symbolic_output.shape
    model = keras.Model(symbolic, symbolic_output)
    np.testing.assert_allclose(_numpy(model(list(inputs))), _numpy(outputs), atol=atol)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    loaded_layer = next(l for l in loaded.layers if isinstance(l, layer_cls))
    assert _as_json(loaded_layer.get_config()) == _as_json(config)
    np.testing.assert_allclose(_numpy(loaded(list(inputs))), _numpy(outputs), atol=atol)
