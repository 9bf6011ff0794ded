"""A small structural-schema checker for the CRDs' openAPIV3Schema (no CEL): types, required,
enums, patterns, ranges, and unknown fields (which the API server would silently prune)."""

from __future__ import annotations

import re
from typing import Any

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            return [f"{path}: expected int or string"]
        kind = None
    else:
        kind = schema.get("type")
    if kind and (
        not isinstance(value, _TYPES[kind]) or (kind != "boolean" and isinstance(value, bool))
    ):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) > schema.get("maxLength", 1 << 30):
            out.append(f"{path}: longer than {schema['maxLength']}")
    low, high = schema.get("minimum", float("-inf")), schema.get("maximum", float("inf"))
    if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
        out.append(f"{path}: {value} out of range")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 1 << 30):
            out.append(f"{path}: {len(value)} items")
        for i, item in enumerate(value):
            out += errors(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                out.append(f"{path}.{key}: required")
        for key, item in value.items():
            if key in props:
                out += errors(props[key], item, f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], item, f"{path}.{key}")
            elif props and not schema.get("x-kubernetes-preserve-unknown-fields"):
                out.append(f"{path}.{key}: unknown field")
    return out
