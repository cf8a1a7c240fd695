"""TF Serving's `tensorflow.serving.PredictionService`: Predict and GetModelMetadata."""

import logging

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    model_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from relevance import contract
from serving.errors import RequestRejected, shown
from serving.model_registry import ModelRegistry
from serving.signature_runner import SignatureRunner
from models.tensor_codec import numpy_to_proto

log = logging.getLogger(__name__)

SIGNATURE_DEF_FIELD = "signature_def"


class Undecodable:
    """Stands in for a request whose bytes are not the expected protobuf."""

    def __init__(self, error: Exception):
        self.error = error


def lenient(parse):
    """A request deserializer that never raises, so garbage gets INVALID_ARGUMENT.

    grpcio answers a deserializer exception with INTERNAL; TF Serving says the request
    was bad, and so do we.
    """

    def deserialize(data: bytes):
        try:
            return parse(data)
        except Exception as error:
            return Undecodable(error)

    return deserialize


def answer(context, handler, request):
    """Runs `handler(request)`, mapping RequestRejected to its status and anything else
    to INTERNAL (logged): the servicer never lets an exception escape into grpcio."""
    if isinstance(request, Undecodable):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"the request is not a valid protobuf message: {request.error}")
    try:
        return handler(request)
    except RequestRejected as rejected:
        error = rejected
    except Exception as unexpected:
        log.exception("request failed")
        error = RequestRejected(grpc.StatusCode.INTERNAL, f"internal error: {unexpected}")
    context.abort(error.code, error.message)


def add_unary_methods(server: grpc.Server, service_name: str, methods) -> None:
    """Registers `methods` {name: (behaviour, request class, response class)} under
    `service_name`, every request decoded leniently (see `lenient`)."""
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=lenient(request_class.FromString),
            response_serializer=response_class.SerializeToString,
        )
        for name, (behaviour, request_class, response_class) in methods.items()
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service_name, handlers),)
    )


def requested_version(model_spec: model_pb2.ModelSpec):
    return model_spec.version.value if model_spec.HasField("version") else None


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Answers Predict and GetModelMetadata from a `ModelRegistry`.

    Classify, Regress and MultiInference keep the generated UNIMPLEMENTED answers: the
    relevance models export Predict signatures only.

    Example:

    >>> import grpc
    >>> from concurrent import futures
    >>> from serving.limits import ServingLimits
    >>> registry = ModelRegistry("m", "/nonexistent", poll_seconds=0)
    >>> server = grpc.server(futures.ThreadPoolExecutor(2))
    >>> PredictionServicer(registry, SignatureRunner(ServingLimits())).add_to_server(server)
    """

    def __init__(self, registry: ModelRegistry, runner: SignatureRunner):
        self.registry = registry
        self.runner = runner

    def add_to_server(self, server: grpc.Server) -> None:
        add_unary_methods(server, "tensorflow.serving.PredictionService", {
            "Predict": (self.Predict, predict_pb2.PredictRequest, predict_pb2.PredictResponse),
            "GetModelMetadata": (
                self.GetModelMetadata,
                get_model_metadata_pb2.GetModelMetadataRequest,
                get_model_metadata_pb2.GetModelMetadataResponse,
            ),
        })

    def Predict(self, request, context):
        return answer(context, self._predict, request)

    def GetModelMetadata(self, request, context):
        return answer(context, self._metadata, request)

    def _predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        spec = request.model_spec
        version = self.registry.resolve(spec.name, requested_version(spec), spec.version_label)
        signature_name = spec.signature_name or contract.SIGNATURE_RAW
        with self.registry.acquire(version) as loaded:
            outputs = self.runner.run_protos(loaded, signature_name, request.inputs,
                                             list(request.output_filter))
            served = loaded.version
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.registry.model_name
        response.model_spec.version.value = served
        response.model_spec.signature_name = signature_name
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(numpy_to_proto(value))
        return response

    def _metadata(self, request):
        spec = request.model_spec
        version = self.registry.resolve(spec.name, requested_version(spec), spec.version_label)
        fields = list(request.metadata_field)
        if fields != [SIGNATURE_DEF_FIELD]:
            raise RequestRejected(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata_field must be exactly ['{SIGNATURE_DEF_FIELD}'] (the only metadata "
                f"TF Serving offers), got {shown(fields)}",
            )
        with self.registry.acquire(version) as loaded:
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for name, signature_def in loaded.signature_defs.items():
                signature_map.signature_def[name].CopyFrom(signature_def)
            served = loaded.version
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.registry.model_name
        response.model_spec.version.value = served
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response
