"""Serving: the gRPC and REST server and client of TF Serving's API, and its config files.

Modules:
    server_config       models.config and batching_parameters.txt for real TF Serving
                        (the version layout and warmup requests: models.export_layout)
    client              RelevanceClient (gRPC Predict) and the `relevance score` command
    server              RelevanceServer and the `relevance serve` command
    serve_flags         `relevance serve` flags, score_flags `relevance score` flags
                        (no gRPC / TensorFlow imports: the CLI builds its parser fast)
    model_registry      newest-version loading, polling, hot swap with per-request leases
    loaded_version      one loaded SavedModel version and its signatures
    signature_runner    input validation against a signature, then the call
    prediction_service  PredictionService.Predict / GetModelMetadata servicer
    model_service       ModelService.GetModelStatus servicer
    health              grpc.health.v1.Health/Check
    rest_api            TF Serving's REST API (/v1/models/NAME[:predict|/metadata])
    rest                the REST gateway: rest_api on aiohttp, with timeouts and caps
    limits              per-request and REST client limits (candidates, bytes, JSON
                        depth, header and body timeouts, connections)
    errors              RequestRejected (server side), ServingError (client side)
"""
