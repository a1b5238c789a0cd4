"""lifecycle: each resource of an imported API lives and dies as its OpenAPI document says.

An environment made by `mcpfactory import openapi` has its import report,
`import-report.json`, beside its spec: it says which tool each operation of
the document became and of what kind (create, get, list, update, delete). The
tool's collection is the one whose record type it returns. For every
collection, on a new session: create a record with values drawn from the
document's own request schema (its examples, enums and constraints, sampled
before the importer could relax anything), get it back, find it in the list,
update one field and see exactly that change, check that values the document
forbids (an enum value it does not list, a number past its bound, a string
too short, long or off its pattern, a required field left out) are refused
without a change, delete it, and then get must fail with the domain error the
tool declares for a missing record (the document's 404). An operation the
report lists as a tool that the spec does not have, or an operation of the
document that the report does not list, is a silent loss and fails too.

A spec without an import report (the hand-written catalog) is not an imported
API: the check is skipped.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpfactory.runtime import canonical_json
from mcpfactory.verify._probe import Outcome, Session
from mcpfactory.verify.checks._base import CheckContext, Evidence, Failed, Passed, Skipped

__all__ = ["REPORT_NAME", "resources_live_as_documented"]

REPORT_NAME = "import-report.json"
ROLES = ("create", "get", "list", "update", "delete")
_MAX_VIOLATIONS = 6  # forbidden values tried per write tool
_MAX_PAGES = 50  # pages of a paged list read before giving up
Key = str | int  # a record key as tools take it (an integer key stays an int)


@dataclass
class _Resource:
    """The lifecycle tools of one collection: role -> (tool, the document's operation)."""

    collection: str
    tools: dict[str, tuple[str, Any]] = field(default_factory=dict)


async def resources_live_as_documented(ctx: CheckContext) -> Passed:
    """Prove create -> get -> list -> update -> delete -> get behave as the imported document says."""
    report_path = ctx.spec_path.parent / REPORT_NAME
    if not report_path.is_file():
        raise Skipped(f"not an imported API (no {REPORT_NAME} beside the spec)")
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        operations = [entry for entry in report["operations"] if isinstance(entry, dict)]
        document_name = str(report["document"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Failed(f"{REPORT_NAME} cannot be read", [f"{type(exc).__name__}: {exc}"]) from None
    document = _find_document(document_name, report_path)
    if document is None:
        raise Skipped(f"the document {document_name!r} named by {REPORT_NAME} is not found")
    from mcpfactory.errors import MCPFactoryError
    from mcpfactory.openapi._document import read_document

    try:
        doc = read_document(document)
    except (MCPFactoryError, RecursionError) as exc:
        raise Failed(f"the imported document cannot be read again: {exc}") from None
    evidence = Evidence(per_kind=2)
    spec = ctx.spec.spec
    by_label = {(op.method.upper(), op.path): op for op in doc.operations}
    listed = {(str(o.get("method")), str(o.get("path"))) for o in operations}
    for label in by_label:
        if label not in listed:
            evidence.add("operation lost", f"{label[0]} {label[1]}: in the document, absent from {REPORT_NAME}")
    returns_to_collection = {record: name for name, record in ctx.spec.records.items()}
    resources: dict[str, _Resource] = {}
    for entry in operations:
        tool, kind = entry.get("tool"), entry.get("kind")
        label = (str(entry.get("method")), str(entry.get("path")))
        if tool is None:
            continue
        if tool not in spec.tools:
            evidence.add("operation lost", f"{label[0]} {label[1]}: {REPORT_NAME} names tool {tool}, the spec has none")
            continue
        if kind not in ROLES or label not in by_label:
            continue
        returned = spec.tools[tool].returns.replace(" | None", "").strip()
        if kind == "list":
            returned = returned.removeprefix("list[").removesuffix("]")
        collection = returns_to_collection.get(returned)
        if collection is None:
            continue
        resource = resources.setdefault(collection, _Resource(collection))
        chosen = resource.tools.get(kind)
        if chosen is None or _required(spec.tools[tool]) < _required(spec.tools[chosen[0]]):
            resource.tools[kind] = (tool, by_label[label])
    runnable = {name: r for name, r in resources.items() if "create" in r.tools or "get" in r.tools}
    # A key of several fields (a nested path's parents and the item) is not followed through the steps yet.
    composite = sorted(name for name in runnable if not isinstance(spec.collections[name].key, str))
    runnable = {name: r for name, r in runnable.items() if name not in composite}
    if not runnable and not evidence:
        if composite:
            raise Skipped(
                f"only resources with composite keys, which this check does not follow: {', '.join(composite)}"
            )
        raise Skipped("the imported API has no resource with a create or get tool")
    steps = 0
    covered: dict[str, list[str]] = {}
    async with ctx.memory() as connection:
        for name, resource in runnable.items():
            if ctx.time_left() <= 0:
                evidence.add("out of time", f"{name}: not checked, the check's share of the budget ran out")
                break
            run = _Run(ctx, connection.fresh("lifecycle"), connection.tools, resource, evidence)
            await run.go()
            steps += run.calls
            covered[name] = sorted(resource.tools, key=ROLES.index)
    stats = {"resources": len(covered), "calls": steps}
    if evidence:
        raise Failed(f"imported resources do not behave as documented: {evidence.summary()}", evidence.lines, stats)
    shown = ", ".join(f"{name} ({'/'.join(roles)})" for name, roles in covered.items())
    left = f"; not followed (composite keys): {', '.join(composite)}" if composite else ""
    return Passed(f"{len(covered)} resource(s) live as documented in {steps} calls: {shown}{left}", stats)


def _find_document(name: str, report_path: Path) -> Path | None:
    path = Path(name)
    for candidate in (path, report_path.parent / path, report_path.parent / path.name):
        if candidate.is_file():
            return candidate
    return None


class _Run:
    """One resource's lifecycle on one session, adding what goes wrong to the evidence."""

    def __init__(
        self, ctx: CheckContext, session: Session, listed: Mapping[str, Any], resource: _Resource, evidence: Evidence
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.listed = listed
        self.resource = resource
        self.evidence = evidence
        self.calls = 0
        self.said: set[str] = set()
        self.keys: dict[str, Key] = {}  # collection -> the key used for its ref parameters
        key_field = ctx.spec.spec.collections[resource.collection].key
        assert isinstance(key_field, str), "composite keys are left out before a run"
        self.key_field = key_field

    # ------------------------------------------------------------------ calls and arguments

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> Outcome:
        self.calls += 1
        return await self.session.call(tool, arguments)

    def fail(self, kind: str, line: str) -> None:
        text = f"{self.resource.collection}: {line}"
        if text not in self.said:  # the same finding, met again on a later step, is one finding
            self.said.add(text)
            self.evidence.add(kind, text)

    def properties(self, tool: str) -> tuple[dict[str, Any], set[str]]:
        listed = self.listed.get(tool)
        schema = getattr(listed, "input_schema", None) or getattr(listed, "inputSchema", None) or {}
        return dict(schema.get("properties") or {}), set(schema.get("required") or [])

    def refs(self, tool: str) -> dict[str, str]:
        """The tool's parameters that take keys, by argument name -> collection."""
        out: dict[str, str] = {}
        params = self.ctx.spec.spec.tools[tool].params
        for variable, param in params.items():
            type_text = param if isinstance(param, str) else param.type
            alias = None if isinstance(param, str) else param.alias
            found = re.fullmatch(r"ref\[(\w+)\]( \| None)?", type_text.strip())
            if found:
                out[alias or variable] = found.group(1)
        return out

    def typed_key(self, collection: str, wire: str) -> Key:
        """A seed record's key as a tool takes it: the record's own key value (an int for integer keys)."""
        record = (self.ctx.spec.seed.get(collection) or {}).get(wire)
        field = self.ctx.spec.spec.collections[collection].key
        value = record.get(field) if isinstance(record, dict) and isinstance(field, str) else None
        return value if isinstance(value, str | int) and not isinstance(value, bool) else wire

    def seed_key(self, collection: str) -> Key | None:
        if collection == self.resource.collection and "key" in self.keys:
            return self.keys["key"]
        if collection in self.keys:
            return self.keys[collection]
        records = self.ctx.spec.seed.get(collection) or {}
        wire = next(iter(records), None)
        if wire is None:
            return None
        key = self.typed_key(collection, wire)
        self.keys[collection] = key
        return key

    def base_arguments(self, tool: str, op: Any) -> dict[str, Any] | None:
        """Arguments for the tool's keys and required parameters, from the document; None if one cannot be made."""
        from mcpfactory.openapi._sample import Sampler

        properties, required = self.properties(tool)
        arguments: dict[str, Any] = {}
        for argument, collection in self.refs(tool).items():
            if argument not in required:
                continue
            key = self.seed_key(collection)
            if key is None:
                return None
            arguments[argument] = key
        sampler = Sampler()
        for param in op.params:
            wanted = _argument(param.name, properties)
            if wanted is None or wanted in arguments or wanted not in required:
                continue
            value = sampler.value(copy.deepcopy(param.shape), param.name, 1)
            if _plain(value):
                arguments[wanted] = value
        return arguments

    # ------------------------------------------------------------------ the lifecycle

    async def go(self) -> None:
        tools = self.resource.tools
        key: Key | None = None
        created: dict[str, Any] | None = None
        if "create" in tools:
            made = await self.create(*tools["create"])
            if made is None:
                return
            key, created = made
        elif "delete" in tools:
            key = self.seed_last()  # no create: the seed's last record (never referenced) lives and dies
        else:
            key = self.seed_key(self.resource.collection)
        if key is None:
            return
        self.keys["key"] = key
        current = await self.get(key, created, "after create" if created is not None else "a seed record")
        if "list" in tools:
            await self.listed_once(key, current)
        if "update" in tools and current is not None:
            current = await self.update(*tools["update"], key, current)
        if "delete" in tools:
            await self.delete(*tools["delete"], key)

    def seed_last(self) -> Key | None:
        records = self.ctx.spec.seed.get(self.resource.collection) or {}
        return self.typed_key(self.resource.collection, list(records)[-1]) if records else None

    async def create(self, tool: str, op: Any) -> tuple[Key, dict[str, Any]] | None:
        arguments = self.base_arguments(tool, op)
        if arguments is None:
            self.fail("create not run", f"{tool}: a key it needs has no record in the seed")
            return None
        given = self.body_values(tool, op, arguments, index=1)
        if given is None:
            return None
        await self.forbidden(tool, op, {**arguments, **given}, None)
        outcome = await self.call(tool, {**arguments, **given})
        if outcome.kind != "ok" or not isinstance(outcome.value, dict):
            self.fail("create failed", f"document-valid values refused: {outcome.describe()}")
            return None
        record = outcome.value
        key = record.get(self.key_field)
        if not isinstance(key, str | int) or isinstance(key, bool):
            self.fail("create failed", f"{outcome.call_text()} returned no key {self.key_field!r}")
            return None
        self.check_holds(outcome, record, given, "create")
        return key, record

    def body_values(self, tool: str, op: Any, arguments: dict[str, Any], *, index: int) -> dict[str, Any] | None:
        """Values for the document's request body fields the tool takes, drawn from the document's schema."""
        from mcpfactory.openapi._document import object_fields
        from mcpfactory.openapi._sample import Sampler
        from mcpfactory.openapi._shape import fits

        properties, required = self.properties(tool)
        refs = self.refs(tool)
        fields = object_fields(op.body)
        given: dict[str, Any] = {}
        documented = {a for p in op.params if (a := _argument(p.name, properties)) is not None}
        sampler = Sampler()
        for name, spec in fields.items():
            if spec.shape.read_only or name == self.key_field:
                continue
            argument = _argument(name, properties)
            if argument is not None:
                documented.add(argument)
            if argument is None:
                if spec.required and op.body_required:
                    self.fail("parameter lost", f"{tool} takes no {name!r}, which the document's request requires")
                continue
            if argument in arguments:
                continue
            if argument in refs:
                key = self.seed_key(refs[argument])
                if key is not None:
                    given[argument] = key
                continue
            original = copy.deepcopy(spec.shape)
            value = sampler.value(copy.deepcopy(spec.shape), name, index)
            if value is None or not _plain(value) or not fits(original.without_null(), value):
                continue  # if the tool requires it, said below
            given[argument] = value
        if op.body is not None and op.body.kind != "object" and "body" in properties and "body" not in arguments:
            value = sampler.value(copy.deepcopy(op.body), "body", index)
            if _plain(value) and fits(op.body, value):
                given["body"] = value
        if "body" in given:
            documented.add("body")
        for argument in required:
            if argument in given or argument in arguments:
                continue
            if argument not in documented:
                self.fail("parameter gained", f"{tool} requires {argument!r}, which the document's request does not")
            else:
                self.fail("no document value", f"{tool}: no value drawn from the document's schema fits {argument!r}")
            return None
        return given

    async def forbidden(self, tool: str, op: Any, good: dict[str, Any], key: Key | None) -> None:
        """Each value the document forbids must be refused, and change nothing."""
        from mcpfactory.openapi._document import object_fields

        properties, _ = self.properties(tool)
        tried = 0
        for name, spec in object_fields(op.body).items():
            argument = _argument(name, properties)
            if argument is None or argument not in good or argument in self.refs(tool):
                continue
            for why, bad in _violations(spec.shape, good[argument]):
                if tried >= _MAX_VIOLATIONS:
                    return
                tried += 1
                arguments = {**good, argument: bad}
                await self.refused(tool, arguments, f"{name} {why}")
            if spec.required and op.body_required and key is None and tried < _MAX_VIOLATIONS:
                tried += 1
                arguments = {k: v for k, v in good.items() if k != argument}
                await self.refused(tool, arguments, f"{name} left out (the document requires it)")

    async def refused(self, tool: str, arguments: dict[str, Any], why: str) -> None:
        before = await self.session.changes()
        outcome = await self.call(tool, arguments)
        if outcome.kind not in ("invalid", "error"):
            self.fail("constraint lost", f"{why}: accepted, {outcome.describe()}")
        elif await self.session.changes() != before:
            self.fail("refusal wrote", f"{why}: refused, yet the state changed ({outcome.describe()})")

    def check_holds(self, outcome: Outcome, record: dict[str, Any], given: dict[str, Any], what: str) -> None:
        for argument, value in given.items():
            if argument in record and canonical_json(record[argument]) != canonical_json(value):
                self.fail(
                    f"{what} lost a value",
                    f"{outcome.call_text()}: {argument} is {canonical_json(record[argument])[:80]}, "
                    f"not the {canonical_json(value)[:80]} given",
                )
            elif argument not in record and self.stores(argument):
                self.fail(f"{what} lost a value", f"{outcome.call_text()}: the record has no {argument!r}")

    def stores(self, argument: str) -> bool:
        collection = self.ctx.spec.spec.collections[self.resource.collection]
        return argument in collection.fields

    async def get(self, key: Key, expected: dict[str, Any] | None, when: str) -> dict[str, Any] | None:
        if "get" not in self.resource.tools:
            return expected
        tool, op = self.resource.tools["get"]
        arguments = self.base_arguments(tool, op)
        if arguments is None:
            return expected
        outcome = await self.call(tool, arguments)
        if outcome.kind != "ok" or not isinstance(outcome.value, dict):
            self.fail("get failed", f"{when}: {outcome.describe()}")
            return None
        if expected is not None and canonical_json(outcome.value) != canonical_json(expected):
            self.fail("get disagrees", f"{when}: {outcome.describe()}, expected {canonical_json(expected)[:160]}")
        return dict(outcome.value)

    async def listed_once(self, key: Key, current: dict[str, Any] | None) -> None:
        tool, op = self.resource.tools["list"]
        _, required = self.properties(tool)
        for argument, collection in self.refs(tool).items():
            if argument in required and collection != self.resource.collection and collection not in self.keys:
                return  # it lists the records under another record, which the created one is not linked to
        arguments = self.base_arguments(tool, op)
        if arguments is None:
            return
        listing = await self.every_item(tool, arguments)
        if listing is None:
            return
        outcome, items = listing
        found = [r for r in items if isinstance(r, dict) and r.get(self.key_field) == key]
        if len(found) != 1:
            self.fail("list disagrees", f"{outcome.call_text()} lists record {key} {len(found)} times, not once")
        elif current is not None and canonical_json(found[0]) != canonical_json(current):
            self.fail("list disagrees", f"{outcome.call_text()} lists {key} as {canonical_json(found[0])[:160]}")

    async def every_item(self, tool: str, arguments: dict[str, Any]) -> tuple[Outcome, list[Any]] | None:
        """What a list tool lists, over all its pages when it is paged (`{items, next_...}`); None if it failed."""
        page = self.ctx.spec.pages.get(tool)
        start, limit = page.roles if page is not None else ("", "")
        if page is not None:
            arguments = {**arguments, page.name(limit): page.max_size}
        items: list[Any] = []
        for _ in range(_MAX_PAGES):
            outcome = await self.call(tool, arguments)
            value = outcome.value
            if outcome.kind == "ok" and page is None and isinstance(value, list):
                return outcome, value
            if outcome.kind != "ok" or page is None or not isinstance(value, dict):
                break
            if not isinstance(value.get("items"), list):
                break
            items.extend(value["items"])
            following = value.get(f"next_{start}")
            if following is None:
                return outcome, items
            arguments = {**arguments, page.name(start): following}
        else:
            self.fail("list failed", f"{tool} still had more pages after {_MAX_PAGES}")
            return None
        self.fail("list failed", outcome.describe())
        return None

    async def update(self, tool: str, op: Any, key: Key, current: dict[str, Any]) -> dict[str, Any]:
        arguments = self.base_arguments(tool, op)
        if arguments is None:
            return current
        changes: dict[str, Any] = {}
        for index in (2, 3, 4, 5):
            values = self.body_values(tool, op, arguments, index=index) or {}
            for argument, value in values.items():
                if (
                    argument not in changes
                    and argument not in self.refs(tool)
                    and self.stores(argument)
                    and canonical_json(current.get(argument)) != canonical_json(value)
                ):
                    changes[argument] = value
        if not changes:
            return current
        await self.forbidden(tool, op, {**arguments, **changes}, key)
        outcome = await self.call(tool, {**arguments, **changes})
        if outcome.kind != "ok" or not isinstance(outcome.value, dict):
            self.fail("update failed", f"document-valid values refused: {outcome.describe()}")
            return current
        expected = {**current, **changes}
        self.check_holds(outcome, outcome.value, changes, "update")
        after = await self.get(key, None, "after update")
        if after is not None:
            for name in sorted(set(expected) | set(after)):
                if canonical_json(expected.get(name)) != canonical_json(after.get(name)):
                    self.fail(
                        "update not kept",
                        f"after {outcome.call_text()}, get shows {name} = {canonical_json(after.get(name))[:80]}, "
                        f"not {canonical_json(expected.get(name))[:80]}",
                    )
                    break
            return after
        return dict(outcome.value)

    async def delete(self, tool: str, op: Any, key: Key) -> None:
        arguments = self.base_arguments(tool, op)
        if arguments is None:
            return
        outcome = await self.call(tool, arguments)
        if outcome.kind != "ok":
            self.fail("delete failed", outcome.describe())
            return
        if "get" in self.resource.tools:
            get_tool, get_op = self.resource.tools["get"]
            get_arguments = self.base_arguments(get_tool, get_op) or {}
            after = await self.call(get_tool, get_arguments)
            declared = self.ctx.spec.tool_errors.get(get_tool) or self.ctx.spec.spec.tools[get_tool].errors
            missing = [code for code in declared if code.endswith("not_found")]
            if after.kind != "error" or (missing and after.code not in missing):
                want = f"the error {' or '.join(missing)}" if missing else "a domain error"
                self.fail("delete not kept", f"after {outcome.call_text()}: {after.describe()}, not {want}")
        if "list" in self.resource.tools:
            list_tool, list_op = self.resource.tools["list"]
            listing = await self.every_item(list_tool, self.base_arguments(list_tool, list_op) or {})
            if listing is not None and any(isinstance(r, dict) and r.get(self.key_field) == key for r in listing[1]):
                self.fail("delete not kept", f"after {outcome.call_text()}, {listing[0].call_text()} still lists {key}")
        again = await self.call(tool, arguments)
        if again.kind != "error":
            self.fail("delete not kept", f"deleting {key} twice: {again.describe()}")


def _required(tool: Any) -> int:
    """How many parameters a tool spec requires (those without a default)."""
    return sum(1 for param in tool.params.values() if isinstance(param, str) or not param.has_default)


def _plain(value: Any) -> bool:
    """Whether a sampled value is plain JSON (a value the sampler could not make is not)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _argument(name: str, properties: Mapping[str, Any]) -> str | None:
    """The tool argument a document field or parameter became: the same name, else the same in snake case."""
    if name in properties:
        return name
    from mcpfactory.openapi._document import snake

    wanted = snake(name)
    for candidate in properties:
        if snake(candidate) == wanted:
            return candidate
    return None


def _violations(shape: Any, good: Any) -> list[tuple[str, Any]]:
    """Values the document's schema forbids, each with what it breaks."""
    from mcpfactory.openapi._shape import fits

    found: list[tuple[str, Any]] = []
    plain = shape.without_null()
    limits = plain.constraints
    if plain.kind == "literal" and plain.values:
        strings = [v for v in plain.values if isinstance(v, str)]
        bad: Any = "not-" + "-".join(str(v) for v in plain.values)[:40] if strings else max(plain.values) + 1
        found.append((f"= {bad!r}, outside its enum", bad))
    elif plain.kind in ("int", "float"):
        for name, step in (("minimum", -1), ("maximum", 1), ("exclusive_minimum", 0), ("exclusive_maximum", 0)):
            bound = limits.get(name)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                value = bound + step
                if plain.kind == "int" and value == int(value):
                    value = int(value)
                found.append((f"= {value!r}, past its {name} {bound!r}", value))
    elif plain.kind == "str":
        low, high = limits.get("min_length"), limits.get("max_length")
        if isinstance(low, int) and low > 0:
            found.append((f"of {low - 1} characters, under its minLength {low}", "x" * (low - 1)))
        if isinstance(high, int):
            found.append((f"of {high + 1} characters, over its maxLength {high}", "x" * (high + 1)))
        pattern = limits.get("pattern")
        if isinstance(pattern, str):
            for candidate in ("", "~", " ", "not a match!"):
                probe = _copy_with(plain, {"pattern": pattern})
                if not fits(probe, candidate):
                    found.append((f"= {candidate!r}, off its pattern {pattern!r}", candidate))
                    break
    return [(why, value) for why, value in found if canonical_json(value) != canonical_json(good)]


def _copy_with(shape: Any, constraints: dict[str, Any]) -> Any:
    twin = copy.copy(shape)
    twin.constraints = constraints
    return twin
