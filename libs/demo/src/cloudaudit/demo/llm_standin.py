"""A local OpenAI-compatible server for the demo: answers /v1/chat/completions from the prompt.

It writes only what the prompt's fact sheet says (values copied verbatim), shaped by the
request's JSON schema, so the product's number checks pass the way a well-behaved model does.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web
from cloudaudit.common.clock import utcnow

MODEL = "cloudaudit-demo-writer"


def _facts(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        match = re.search(r"\{.*\}", text, re.S)
        if match:
            try:
                parsed = json.loads(match.group(0))
                if isinstance(parsed, dict):
                    return parsed
            except json.JSONDecodeError:
                continue
    return {}


def _flat(facts: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _sentence(flat: dict[str, Any]) -> str:
    action = next(
        (str(v) for k, v in flat.items() if k.endswith("action") and v), "Review this resource"
    )
    savings = next((str(v) for k, v in flat.items() if "saving" in k and v not in (None, "")), None)
    resource = next((str(v) for k, v in flat.items() if k.endswith("resource_id") and v), None)
    parts = [action.rstrip(".") + (f" ({resource})" if resource else "") + "."]
    if savings:
        amount = savings if savings.startswith("$") else f"${savings}"
        parts.append(f"Estimated savings: {amount} per month.")
    return " ".join(parts)


def _value(name: str, schema: dict[str, Any], flat: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if name in flat and not isinstance(flat[name], list | dict):
        return flat[name] if kind != "string" else str(flat[name])
    if kind == "string":
        if "title" in name:
            return _sentence(flat).split(". ")[0].rstrip(".")[:80]  # not "$0" of "$0.28"
        return _sentence(flat)
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return 0
    if kind == "boolean":
        return False
    if kind == "object":
        return _fill(schema, flat)
    return None


def _fill(schema: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties", {})
    required = schema.get("required", list(properties))
    return {name: _value(name, properties.get(name, {}), flat) for name in required}


async def chat_completions(request: web.Request) -> web.Response:
    body = await request.json()
    flat = _flat(_facts(body.get("messages", [])))
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema")
    content = json.dumps(_fill(schema, flat)) if schema else _sentence(flat)
    prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages", []))
    return web.json_response(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(utcnow().timestamp()),
            "model": body.get("model", MODEL),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_tokens + len(content) // 4,
            },
        }
    )


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    return app
