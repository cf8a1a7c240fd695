"""The model interface trainer, serving and evaluation share (floor 1 of the house).

Modules:
    export          raw feature dict, the two serving signatures every relevance model
                    carries, save and load (RelevanceServingModule, load_relevance_model)
    export_layout   BASE/MODEL_NAME/VERSION layout, warmup requests, latest_version()
    tensor_codec    TensorProto <-> numpy
"""
