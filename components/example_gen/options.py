"""Options of the relevance ExampleGen, carried in ExampleGen's standard `custom_config`.

`FileBasedExampleGen` takes a `CustomConfig` holding a `google.protobuf.Any`; we pack a
`Struct` into it so the component stays the stock TFX one (and compiles for Kubeflow)
while the executor gets plain options.

Example:

>>> opts = ExampleGenOptions(input_format="jsonl", num_grades=4)
>>> ExampleGenOptions.from_custom_config_json(opts.to_custom_config_json()).num_grades
4
"""

import dataclasses
from typing import List

from google.protobuf import json_format, struct_pb2
from tfx.proto import example_gen_pb2

from relevance import contract


@dataclasses.dataclass
class ExampleGenOptions:
    """How raw input files become canonical examples.

    Attributes:
        input_format: "auto" (by file extension), "csv", "jsonl" or "tfrecord".
        num_grades: G; grades must lie in 1..G.
        eval_percent: share of labeled *queries* (not rows) held out as the eval split.
        numeric_features: `num_*` columns to carry as float features.
        image_only_items: accept items with an image but no text (see
            `relevance.records.to_record`); on when the pipeline captions images.
    """

    input_format: str = "auto"
    num_grades: int = contract.DEFAULT_NUM_GRADES
    eval_percent: float = 20.0
    numeric_features: List[str] = dataclasses.field(default_factory=list)
    image_only_items: bool = False

    def to_custom_config(self) -> example_gen_pb2.CustomConfig:
        struct = struct_pb2.Struct()
        struct.update(dataclasses.asdict(self))
        config = example_gen_pb2.CustomConfig()
        config.custom_config.Pack(struct)
        return config

    def to_custom_config_json(self) -> str:
        return json_format.MessageToJson(self.to_custom_config())

    @classmethod
    def from_custom_config_json(cls, text: str) -> "ExampleGenOptions":
        config = example_gen_pb2.CustomConfig()
        json_format.Parse(text or "{}", config)
        struct = struct_pb2.Struct()
        if config.HasField("custom_config"):
            config.custom_config.Unpack(struct)
        values = json_format.MessageToDict(struct)
        known = {f.name for f in dataclasses.fields(cls)}
        options = cls(**{k: v for k, v in values.items() if k in known})
        options.num_grades = int(options.num_grades)
        options.image_only_items = bool(options.image_only_items)
        return options
