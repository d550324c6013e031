"""Policy files: YAML with includes, validated, every problem at ``file:line:col``.

Includes are resolved relative to the including file and merged first; the
including file wins: its scalar keys replace, its ``organisation``/``groups``/...
mappings are merged key by key, and its ``rules`` come after the included ones
(a rule with the same name replaces the included rule in place).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mailguard.detectors import registry
from mailguard.policy.schema import Policy, Rule, RuleAction

Path_ = tuple[Any, ...]
_MERGED_MAPPINGS = ("organisation", "groups", "rewrite", "quarantine", "notify")


@dataclass(frozen=True, slots=True)
class Mark:
    file: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Problem:
    mark: Mark
    message: str

    def __str__(self) -> str:
        return f"{self.mark.file}:{self.mark.line}:{self.mark.col}: {self.message}"


class PolicyError(Exception):
    def __init__(self, problems: list[Problem], files: tuple[Path, ...] = ()) -> None:
        problems = sorted(problems, key=lambda p: (p.mark.file, p.mark.line, p.mark.col))
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.files = files  # every file the failed load looked at, to watch for a fix


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    policy: Policy
    files: tuple[Path, ...]
    version: str  # short hash of every file's bytes: which policy is live


@dataclass(slots=True)
class _Doc:
    """Plain data plus where each value (and each mapping key) came from."""

    data: dict[str, Any]
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)


def load_policy(path: Path | str) -> LoadedPolicy:
    """Load, merge and validate; raise PolicyError listing every problem found."""
    path = Path(path)
    problems: list[Problem] = []
    seen: list[Path] = []
    doc = _resolve(path, (), problems, Mark(str(path), 1, 1), seen)
    if doc is None:
        raise PolicyError(problems, tuple(seen))
    # Every problem in one pass: what the file says is still validated after a
    # duplicate key, and the rules that are valid are still cross-checked.
    positions: list[int] | None = None
    try:
        policy: Policy | None = Policy.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_problem_for(doc, err) for err in exc.errors())
        policy, positions = _valid_part(doc.data)
    if policy is not None:
        problems.extend(_cross_references(policy, doc, positions))
    if problems or policy is None:
        raise PolicyError(problems, tuple(seen))
    return LoadedPolicy(policy, tuple(doc.files), doc.digest.hexdigest()[:12])


def _valid_part(data: dict[str, Any]) -> tuple[Policy | None, list[int]]:
    """For the cross-checks after a failed validation only: the policy without its
    invalid parts (never used to decide anything), and each rule's place in the file."""
    kept, positions = [], []
    for i, rule in enumerate(_raw_rules(data)):
        try:
            Rule.model_validate(rule)
        except ValidationError:
            # Its conditions alone, if they are valid, are still checked for names.
            if not isinstance(rule, dict):
                continue
            rule = {"name": str(rule.get("name", f"rule-{i}")), "when": rule.get("when"),
                    "action": "tag"}  # fmt: skip
            try:
                Rule.model_validate(rule)
            except ValidationError:
                continue
        kept.append(rule)
        positions.append(i)
    rest = {k: v for k, v in data.items() if k != "rules"}
    for attempt in (rest, {k: v for k, v in rest.items() if k in ("groups", "identifiers")}, {}):
        try:
            return Policy.model_validate({**attempt, "rules": kept}), positions
        except ValidationError:
            continue
    return None, []


# --- reading one file ----------------------------------------------------------------


def _read(path: Path, problems: list[Problem], cited_at: Mark) -> _Doc | None:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(cited_at, f"policy file not found: {path}"))
        return None
    except OSError as exc:
        problems.append(Problem(cited_at, f"cannot read {path}: {exc.strerror}"))
        return None
    name = str(path)
    try:
        node = yaml.compose(text.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        problems.append(Problem(Mark(name, 1, 1), f"not UTF-8 text: {exc.reason}"))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(name, mark.line + 1, mark.column + 1) if mark else Mark(name, 1, 1)
        problems.append(Problem(where, f"YAML syntax: {exc.problem or exc.context}"))
        return None
    except yaml.YAMLError as exc:  # e.g. a control character (ReaderError)
        problems.append(Problem(_error_mark(name, exc), f"YAML: {exc}".splitlines()[0]))
        return None
    doc = _Doc({}, files=[path])
    doc.digest.update(text)
    if node is None:
        return doc
    try:
        data = _plain(node, (), doc, name, problems)
    except RecursionError:
        problems.append(Problem(_mark(name, node), "YAML: an alias refers to itself"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(_mark(name, node), "a policy file must be a mapping of keys"))
        return None
    doc.data = data
    return doc


def _error_mark(name: str, exc: yaml.YAMLError) -> Mark:
    position = getattr(exc, "position", None)  # ReaderError: a character offset
    return Mark(name, 1, (position or 0) + 1) if position is not None else Mark(name, 1, 1)


def _mark(name: str, node: yaml.Node) -> Mark:
    return Mark(name, node.start_mark.line + 1, node.start_mark.column + 1)


_constructor = yaml.constructor.SafeConstructor()


def _plain(node: yaml.Node, path: Path_, doc: _Doc, name: str, problems: list[Problem]) -> Any:
    doc.values[path] = _mark(name, node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                problems.append(Problem(_mark(name, key_node), "keys must be text"))
                continue
            if key in out:
                problems.append(Problem(_mark(name, key_node), f"duplicate key '{key}'"))
                continue
            doc.keys[(*path, key)] = _mark(name, key_node)
            out[key] = _plain(value_node, (*path, key), doc, name, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(n, (*path, i), doc, name, problems) for i, n in enumerate(node.value)]
    return _constructor.construct_object(node, deep=True)


# --- includes and merging ------------------------------------------------------------


def _resolve(
    path: Path,
    stack: tuple[Path, ...],
    problems: list[Problem],
    cited_at: Mark,
    seen: list[Path],
) -> _Doc | None:
    real = path.resolve()
    seen.append(path)
    doc = _read(path, problems, cited_at)
    if doc is None:
        return None
    problems.extend(_duplicate_rule_names(doc))
    includes = doc.data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        problems.append(Problem(doc.values[("include",)], "include must be a list of paths"))
        return doc
    merged = _Doc({})
    for i, item in enumerate(includes):
        mark = _nearest(doc, ("include", i))
        if not isinstance(item, str):
            problems.append(Problem(mark, "include entries must be paths"))
            continue
        target = path.parent / item
        if target.resolve() in (*stack, real):
            chain = " -> ".join(str(p) for p in (*stack, real, target.resolve()))
            problems.append(Problem(mark, f"include cycle: {chain}"))
            continue
        sub = _resolve(target, (*stack, real), problems, mark, seen)
        if sub is not None:
            merged = _merge(merged, sub)
    return _merge(merged, doc)


def _duplicate_rule_names(doc: _Doc) -> list[Problem]:
    """Within one file a repeated name is a mistake; across files it is an override."""
    rules = doc.data.get("rules")
    if not isinstance(rules, list):
        return []
    seen: set[str] = set()
    out = []
    for i, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, dict) else None
        if isinstance(name, str):
            if name in seen:
                mark = doc.values.get(("rules", i, "name")) or doc.values[("rules", i)]
                out.append(Problem(mark, f"duplicate rule name '{name}'"))
            seen.add(name)
    return out


def _merge(base: _Doc, over: _Doc) -> _Doc:
    out = _Doc(dict(base.data), dict(base.values), dict(base.keys), [*base.files, *over.files])
    out.digest.update(base.digest.digest())
    out.digest.update(over.digest.digest())
    for key, value in over.data.items():
        if key == "rules" and isinstance(value, list) and isinstance(out.data.get(key), list):
            _merge_rules(out, over, value)
        elif (
            key in _MERGED_MAPPINGS
            and isinstance(value, dict)
            and isinstance(out.data.get(key), dict)
        ):
            out.data[key] = {**out.data[key], **value}
            _copy_marks(over, out, (key,), (key,), whole=False)
            for sub in value:
                _drop_marks(out, (key, sub))
                _copy_marks(over, out, (key, sub), (key, sub))
        else:
            _drop_marks(out, (key,))
            out.data[key] = value
            _copy_marks(over, out, (key,), (key,))
    return out


def _merge_rules(out: _Doc, over: _Doc, rules: list[Any]) -> None:
    merged: list[Any] = list(out.data["rules"])
    sources: list[tuple[_Doc, int]] = [(out, i) for i in range(len(merged))]
    base_marks = _Doc({}, dict(out.values), dict(out.keys))
    for j, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, dict) else None
        same = [
            i
            for i, r in enumerate(merged)
            if isinstance(r, dict) and name and r.get("name") == name
        ]
        if same:
            merged[same[0]] = rule
            sources[same[0]] = (over, j)
        else:
            merged.append(rule)
            sources.append((over, j))
    _drop_marks(out, ("rules",), keep_root=True)
    for i, (src, j) in enumerate(sources):
        _copy_marks(base_marks if src is out else src, out, ("rules", j), ("rules", i))
    out.data["rules"] = merged


def _with_prefix(marks: dict[Path_, Mark], prefix: Path_) -> Iterator[tuple[Path_, Mark]]:
    n = len(prefix)
    for path, mark in marks.items():
        if path[:n] == prefix:
            yield path[n:], mark


def _copy_marks(
    src: _Doc, dst: _Doc, src_prefix: Path_, dst_prefix: Path_, whole: bool = True
) -> None:
    for table in ("values", "keys"):
        source, target = getattr(src, table), getattr(dst, table)
        for rest, mark in list(_with_prefix(source, src_prefix)):
            if whole or not rest:
                target[(*dst_prefix, *rest)] = mark


def _drop_marks(doc: _Doc, prefix: Path_, keep_root: bool = False) -> None:
    n = len(prefix)
    for table in (doc.values, doc.keys):
        for path in [p for p in table if p[:n] == prefix and not (keep_root and len(p) == n)]:
            del table[path]


# --- mapping validation errors back to the file ---------------------------------------


def _problem_for(doc: _Doc, err: Any) -> Problem:
    loc: Path_ = tuple(_yaml_key(x) for x in err["loc"])
    path: Path_ = ()
    for part in loc:  # skip pydantic-only parts of the location (e.g. union tags)
        if (*path, part) in doc.values:
            path = (*path, part)
    if err["type"] == "extra_forbidden" and loc:
        key = loc[-1]
        parent = path[:-1] if path and path[-1] == key else path
        mark = doc.keys.get((*parent, key)) or doc.values[path]
        return Problem(mark, f"unknown key '{key}'{_context(parent)}")
    mark = doc.values.get(path) or doc.values[()]
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        message = f"missing key '{loc[-1]}'"
    elif err["type"] in ("enum", "literal_error"):
        message = f"'{err['input']}' is not one of {err['ctx']['expected']}"
    elif path != loc:
        message = f"{'.'.join(str(p) for p in loc[len(path) :])}: {message}"
    return Problem(mark, f"{message}{_context(path)}")


def _nearest(doc: _Doc, path: Path_) -> Mark:
    while path and path not in doc.values:
        path = path[:-1]
    return doc.values.get(path) or Mark(str(doc.files[-1]) if doc.files else "?", 1, 1)


def _yaml_key(part: Any) -> Any:
    return part.rstrip("_") if isinstance(part, str) else part


def _context(path: Path_) -> str:
    return f" (in {'.'.join(str(p) for p in path)})" if path else ""


def _raw_rules(data: dict[str, Any]) -> list[Any]:
    """The rules as the file writes them, valid or not."""
    rules = data.get("rules")
    return rules if isinstance(rules, list) else []


def _cross_references(policy: Policy, doc: _Doc, positions: list[int] | None) -> list[Problem]:
    """``positions``: where each of the policy's rules is in the file's list, when some
    invalid ones were left out."""
    problems: list[Problem] = []
    names = {rule.name for rule in policy.rules} | {
        r.get("name") for r in _raw_rules(doc.data) if isinstance(r, dict)
    }
    known_types = registry.finding_types() | {i.name for i in policy.identifiers}
    for n, rule in enumerate(policy.rules):
        i = positions[n] if positions is not None else n
        if rule.action is RuleAction.ALLOW:
            for j, target in enumerate(rule.exempts or []):
                if target not in names:
                    mark = _nearest(doc, ("rules", i, "exempts", j))
                    problems.append(Problem(mark, f"exempts unknown rule '{target}'"))
        for path, cond in rule.when.walk(("rules", i, "when")):
            for j, type_ in enumerate(cond.finding.type if cond.finding else ()):
                if type_ not in known_types:
                    context = _context((*path, "finding", "type"))
                    where = _nearest(doc, (*path, "finding", "type", j))
                    problems.append(Problem(where, f"unknown finding type {type_}{context}"))
    return problems
