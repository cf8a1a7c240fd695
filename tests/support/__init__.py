"""Fixtures the tests and the packages' docstring examples share; the pytest fixtures
live in tests/conftest.py. Test modules and docstring examples import
`from support import examples` (pytest puts tests/ on sys.path; a bench script, which
puts the checkout on sys.path, imports `tests.support...`).

Modules:
    examples         tf.Examples from plain values, TFRecord files
    serving_models   tiny real relevance SavedModels (lexical, dense) for serving
    gguf_test_file   tiny random Llama GGUF files for the GGUF converter
    layer_test_case  one check of a custom Keras layer (shapes, config, save / load)
    tiny_encoder     a tiny random keras-hub encoder preset for the ItemEmbedder
"""
