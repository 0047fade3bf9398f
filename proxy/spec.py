"""The OpenAPI document as the only schema: operations, and validators read from it by operationId."""
from __future__ import annotations

import functools
import importlib.resources

import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .errors import InvalidRequest

# Package data: in a checkout a link to the top-level openapi.yaml, in an installed wheel a copy of it.
SPEC_PATH = importlib.resources.files("proxy") / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ROOT = "urn:openapi"


def _pointer(*parts):
    return "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Spec:
    """openapi.yaml, loaded once."""

    def __init__(self, path=SPEC_PATH):
        with path.open(encoding="utf-8") as f:
            # libyaml's loader, where PyYAML has it, reads the spec ten times faster.
            self.document = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.registry = Registry().with_resource(ROOT, DRAFT202012.create_resource(self.document))
        self.operations = {
            op["operationId"]: (method, path)
            for path, item in self.document["paths"].items()
            for method, op in item.items() if method in METHODS
        }

    def _operation(self, operation_id):
        method, path = self.operations[operation_id]
        return ("paths", path, method), self.document["paths"][path][method]

    @functools.lru_cache(maxsize=None)
    def validator(self, *location):
        """Return a validator for the schema at a JSON pointer into the document."""
        schema = {"$ref": f"{ROOT}#/{_pointer(*location)}"}
        return jsonschema.Draft202012Validator(schema, registry=self.registry)

    def schema_validator(self, name):
        return self.validator("components", "schemas", name)

    def request_validator(self, operation_id):
        location, _ = self._operation(operation_id)
        return self.validator(*location, "requestBody", "content", "application/json", "schema")

    def response_validator(self, operation_id, status, content_type="application/json"):
        location, operation = self._operation(operation_id)
        key = str(status) if str(status) in operation["responses"] else "default"
        location, response = (*location, "responses", key), operation["responses"][key]
        if "$ref" in response:  # a shared response under components/responses
            location = tuple(response["$ref"].lstrip("#/").split("/"))
        return self.validator(*location, "content", content_type, "schema")

    def validate_request(self, operation_id, body):
        """Return body if it matches the operation's request schema, else raise InvalidRequest."""
        error = jsonschema.exceptions.best_match(self.request_validator(operation_id).iter_errors(body))
        if error is None:
            return body
        error, message = _meant_branch(error)
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            path += [name for name in error.validator_value if name not in error.instance][:1]
        param = param_name(path)
        where = f" at '{param}'" if param else ""
        raise InvalidRequest(f"Invalid request body{where}: {message or error.message}", param=param or None)


def _meant_branch(error):
    """Follow a failed oneOf into the branch its discriminating const (such as `role`) or JSON type names.

    Returns (error, message): message replaces the error's own when no branch is named.
    """
    while error.validator in ("oneOf", "anyOf") and error.context:
        misses = [e for e in error.context if e.validator == "const" and len(e.relative_path) == 1]
        # A branch of another JSON type (a string where an array came) was not meant either.
        other_types = [e for e in error.context if e.validator == "type" and not e.relative_path]
        meant = {e.relative_schema_path[0] for e in error.context} - {
            e.relative_schema_path[0] for e in misses + other_types}
        if len(meant) == 1:
            branch = meant.pop()
            # The branch's most relevant error, not descended into: a oneOf in it is followed here.
            error = max((e for e in error.context if e.relative_schema_path[0] == branch),
                        key=jsonschema.exceptions.relevance)
            continue
        fields = {e.relative_path[0] for e in misses}
        if not meant and len(fields) == 1 and isinstance(error.instance, dict):
            field = fields.pop()
            allowed = ", ".join(repr(e.validator_value) for e in misses)
            return misses[0], f"{error.instance.get(field)!r} is not one of {allowed}"
        break
    return error, None


def param_name(path):
    """Return an OpenAI-style parameter name for a JSON path: messages[0].content."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name
