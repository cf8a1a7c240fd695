"""Demo code (floor 6 of the house): the built-in demo data set, its product images, and
tiny real relevance SavedModels for the serving tests and benchmarks.

Modules:
    data            `relevance demo`'s synthetic multilingual data (write_demo_data)
    images          the demo product images (one damaged on purpose)
    serving_models  tiny real relevance SavedModels (lexical, dense) for serving
"""
