# Image for running the pipeline's components on Kubeflow (or anywhere with Docker).
# The project is installed into the image, so the custom ExampleGen executor, the
# PseudoLabeler and the Trainers' run_fns import from it. It deliberately does NOT start
# from the official TFX image, which sets TF_USE_LEGACY_KERAS=1 (Keras 2); this project
# is Keras 3 throughout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
RUN apt-get update && apt-get install -y --no-install-recommends build-essential git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/relevance
COPY requirements/ requirements/
RUN pip install --ignore-requires-python -c requirements/constraints.txt -r requirements/requirements.txt \
    && pip install --ignore-requires-python -c requirements/constraints.txt --no-deps -r requirements/no-deps.txt
COPY setup.py README.md ./
COPY relevance/ relevance/
COPY models/ models/
COPY trainer/ trainer/
COPY serving/ serving/
COPY evaluation/ evaluation/
COPY components/ components/
COPY pipeline/ pipeline/
COPY demo/ demo/
COPY cli/ cli/
RUN pip install --ignore-requires-python --no-deps . \
    && python -c "import components.example_gen.executor, components.pseudo_labeler.component, trainer.teacher.task, trainer.student.task"
# The default teacher's preset, converted once at build time so that no Trainer on the
# cluster converts it again (the preset cache is checked before every use).
ENV RELEVANCE_PRESET_CACHE=/opt/relevance/presets
RUN relevance presets build multilingual-e5-small

# KFP v2 launches TFX components with `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`.
ENTRYPOINT []
