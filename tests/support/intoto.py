"""The in-toto Statement v1 layer as a JSON Schema, written from the spec
(github.com/in-toto/attestation, spec/v1/statement.md and resource_descriptor.md): `_type` is exactly
https://in-toto.io/Statement/v1; `subject` a non-empty list of ResourceDescriptors, each with a `digest`
map of algorithm -> lowercase hex (`name` a string when set); `predicateType` a URI; `predicate` an object."""

from __future__ import annotations

from typing import Any

STATEMENT_V1_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_type", "subject", "predicateType"],
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["digest"],
                "properties": {
                    "name": {"type": "string"},
                    "uri": {"type": "string"},
                    "digest": {"type": "object", "minProperties": 1,
                               "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"}},
                },
            },
        },
        "predicateType": {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*://"},
        "predicate": {"type": "object"},
    },
}


def validate_statement(statement: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.validate(statement, STATEMENT_V1_SCHEMA)
