"""The AsyncAPI 3.0 document of a service's streams: the contract its consumers rely on.

One channel per stream, whose address is the name the brokers know it by (the JetStream stream,
the Redis key, the AMQP exchange: `<service>.<stream>`); one message per event type, its
payload the CloudEvents envelope with the event's fields as `data`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fluvius.streams.envelope import CONTENT_TYPE

if TYPE_CHECKING:
    from fluvius.domain.messages import Event
    from fluvius.service import Service

PATH = "/asyncapi.json"
ROUTING = (
    "NATS subject `{service}.{stream}.<domain>.<event>` in the JetStream stream "
    "`{service}_{stream}`; Redis stream `{service}.{stream}`; AMQP topic exchange "
    "`{service}.{stream}`, routing key `<domain>.<event>`; MQTT topic "
    "`{service}/{stream}/<domain>/<event>`; Kafka topic `{service}.{stream}`; webhook: "
    "a signed POST (Standard Webhooks)."
)


def asyncapi(service: Service) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `service`'s streams."""
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for stream in service.streams:
        carried = {}
        for qualified in stream.events:
            name, message = _message(service, qualified)
            messages[name] = message
            carried[name] = {"$ref": f"#/components/messages/{name}"}
        channels[stream.name] = {
            "address": f"{service.name}.{stream.name}",
            "title": stream.name,
            "description": (stream.description + "\n\n" if stream.description else "")
            + ROUTING.format(service=service.name, stream=stream.name),
            "messages": carried,
        }
        operations[f"publish-{stream.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{stream.name}"},
            "summary": f"{service.name} publishes the events of {stream.name}, at least once.",
            "messages": [{"$ref": f"#/channels/{stream.name}/messages/{name}"} for name in carried],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{service.name} streams",
            "version": "1",
            "description": service.description or f"The public event streams of {service.name}.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def asyncapi_router(service: Service) -> APIRouter:
    """`GET /asyncapi.json`, beside `/openapi.json`."""
    router = APIRouter()
    document = asyncapi(service)

    @router.get(PATH, include_in_schema=False)
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(document)

    return router


def _message(service: Service, qualified: str) -> tuple[str, dict[str, Any]]:
    """The message of one event: named by its versioned CloudEvents type."""
    domain_name, aggregate_name, event_name = qualified.split(".")
    event = service.domain(domain_name).aggregate(aggregate_name).events[event_name].event
    version = event.schema_version
    event_type = f"{service.name}.{domain_name}.{event_name}.v{version}"
    return event_type, {
        "name": event_type,
        "title": f"{event_name} (v{version})",
        "summary": (event.__doc__ or "").strip() or f"{aggregate_name} {event_name}",
        "contentType": CONTENT_TYPE,
        "correlationId": {"location": "$message.payload#/correlationid"},
        "payload": _envelope_schema(event_type, event),
    }


def _envelope_schema(event_type: str, event: type[Event]) -> dict[str, Any]:
    data = event.model_json_schema(ref_template="#/definitions/{model}")
    definitions = data.pop("$defs", {})
    string = {"type": "string"}
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**string, "format": "uuid", "description": "The event id: deduplicate by it."},
            "source": string,
            "type": {"const": event_type},
            "subject": {**string, "format": "uuid", "description": "The aggregate id."},
            "time": {**string, "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": data,
            "position": {"type": "integer", "description": "The event's place in its log."},
            "aggregateversion": {
                "type": "integer",
                "description": "The aggregate's version after the event: 1, 2, 3, ...",
            },
            "correlationid": string,
            "tenant": string,
        },
    }
    if definitions:
        schema["definitions"] = definitions
    return schema
