"""Builders the tests share (tf.Examples from plain values, TFRecord files); the
fixtures live in tests/conftest.py. Test modules import `from support import examples`
(pytest puts tests/ on sys.path)."""
