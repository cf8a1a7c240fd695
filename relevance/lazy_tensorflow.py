"""`tf` for modules the `relevance` command imports before it knows it needs TensorFlow.

Importing TensorFlow takes seconds. The readers and data set adapters use it for
`tf.io.gfile` (so that gs:// and hdfs:// paths work like local ones) and TFRecord input,
and the CLI imports them to build its parser: with a plain `import tensorflow`,
`relevance --help` and every input error would wait for TensorFlow first.

Example:

>>> from relevance.lazy_tensorflow import tf
>>> tf.io.gfile.exists("/")  # TensorFlow is imported here, on first use
True
"""

import importlib
import types


class LazyModule(types.ModuleType):
    """A module imported on its first attribute access, then delegated to.

    Example:

    >>> import pickle
    >>> json_module = LazyModule("json")
    >>> json_module.dumps([1])
    '[1]'
    >>> pickle.loads(pickle.dumps(json_module)).__name__
    'json'
    """

    def __init__(self, name: str):
        super().__init__(name)
        self._module = None

    def __getattr__(self, attribute: str):
        if self._module is None:
            self._module = importlib.import_module(self.__name__)
        return getattr(self._module, attribute)

    def __reduce__(self):
        # Beam pickles functions with their globals: unpickle as the real module.
        return importlib.import_module, (self.__name__,)


tf = LazyModule("tensorflow")
