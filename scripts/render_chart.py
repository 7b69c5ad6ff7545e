#!/usr/bin/env python3
"""Render deploy/kubernetes/chart into plain manifests (or, with --check, fail if stale).

Usage: python scripts/render_chart.py [--check] [--set key.path=value ...] [--out FILE]

Helm is not installable from the registries our machines reach, so this script renders the
chart's templates with the small subset of Helm's Go-template language they use, and the
tests compare its output with the committed ``deploy/kubernetes/manifests/raftstore.yaml``
(rendered with ``manifests/values.yaml`` on top of the chart's values). The subset:

- ``{{ .Values.a.b }}``, ``{{ .Release.Name }}``, ``{{ .Release.Namespace }}``,
  ``{{ .Chart.AppVersion }}``; string and integer literals;
- pipelines ``{{ X | f arg ... }}`` with ``quote``, ``toJson``, ``toYaml``, ``indent N``,
  ``nindent N``, ``default D``, ``required "message"``, ``join SEP`` (the piped value is
  the last argument, as in Go templates), also called prefix-style (``toYaml .Values.x``);
- ``{{- if X }} ... {{- else }} ... {{- end }}`` and the ``{{-`` / ``-}}`` whitespace trims.

Anything else is an error, so a template that uses more of Helm fails here, not in a cluster.
``helm template`` renders the same chart to the same objects.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "kubernetes" / "chart"
MANIFESTS = ROOT / "deploy" / "kubernetes" / "manifests"
_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def _go_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise TemplateError(f"cannot print a {type(value).__name__} without toYaml/toJson")
    return str(value)


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n")


def _indent(n: int, text: Any) -> str:
    return "\n".join(" " * int(n) + line for line in _go_str(text).split("\n"))


def _required(message: str, value: Any) -> Any:
    if value in (None, "", [], {}):
        raise TemplateError(message)
    return value


FUNCS = {
    "quote": lambda v: json.dumps(_go_str(v)),
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda n, v: "\n" + _indent(n, v),
    "default": lambda d, v: v if v not in (None, "", [], {}, False, 0) else d,
    "required": _required,
    "join": lambda sep, v: sep.join(_go_str(x) for x in v),
    "not": lambda v: not _truthy(v),
}


def _term(token: str, context: dict[str, Any]) -> Any:
    if token.startswith('"'):
        return json.loads(token)
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if not token.startswith("."):
        raise TemplateError(f"unsupported term {token!r}")
    value: Any = context
    for part in token[1:].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _command(words: list[str], context: dict[str, Any], piped: list[Any]) -> Any:
    head, args = words[0], [_term(w, context) for w in words[1:]]
    if head in FUNCS:
        return FUNCS[head](*args, *piped)
    if args or piped:
        raise TemplateError(f"unsupported function {head!r}")
    return _term(head, context)


def evaluate(expr: str, context: dict[str, Any]) -> Any:
    piped: list[Any] = []
    for stage in expr.split("|"):
        words = shlex.split(stage, posix=False)
        if not words:
            raise TemplateError(f"empty pipeline stage in {expr!r}")
        piped = [_command(words, context, piped)]
    return piped[0]


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def _tokens(source: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", expr) pieces with the trims applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if m[1]:
            text = text.rstrip()
        out.append(("text", text))
        out.append(("action", m[2]))
        pos = m.end()
        if m[3]:
            rest = source[pos:]
            pos += len(rest) - len(rest.lstrip())
    out.append(("text", source[pos:]))
    return out


def render_text(source: str, context: dict[str, Any]) -> str:
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (emitting before this if, condition)
    emitting = True
    for kind, value in _tokens(source):
        if kind == "text":
            if emitting:
                out.append(value)
            continue
        word = value.split(maxsplit=1)[0] if value else ""
        if word == "if":
            cond = emitting and _truthy(evaluate(value[2:].strip(), context))
            stack.append((emitting, cond))
            emitting = cond
        elif word == "else":
            outer, cond = stack[-1]
            emitting = outer and not cond
        elif word == "end":
            emitting = stack.pop()[0]
        elif word.startswith("/*"):
            continue
        elif emitting:
            out.append(_go_str(evaluate(value, context)))
    if stack:
        raise TemplateError("unterminated {{ if }}")
    return "".join(out)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _set(values: dict[str, Any], assignment: str) -> None:
    path, _, raw = assignment.partition("=")
    *parents, leaf = path.split(".")
    for part in parents:
        values = values.setdefault(part, {})
    values[leaf] = yaml.safe_load(raw)


def render_chart(
    overrides: dict[str, Any] | None = None,
    release: str = "raftstore",
    namespace: str = "default",
    chart: Path = CHART,
) -> str:
    """Every template of the chart rendered into one multi-document YAML string."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    values = _merge(yaml.safe_load((chart / "values.yaml").read_text()), overrides or {})
    context = {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace},
        "Chart": {
            "Name": meta["name"],
            "Version": meta["version"],
            "AppVersion": meta["appVersion"],
        },
    }
    docs = []
    for template in sorted((chart / "templates").glob("*.yaml")):
        text = render_text(template.read_text(), context).strip()
        if text:
            docs.append(f"# Source: {meta['name']}/templates/{template.name}\n{text}\n")
    return "---\n".join(docs)


def default_manifests() -> str:
    header = (
        "# Rendered from deploy/kubernetes/chart with manifests/values.yaml by\n"
        "# scripts/render_chart.py; do not edit (edit the chart and re-render).\n"
    )
    overrides = yaml.safe_load((MANIFESTS / "values.yaml").read_text())
    return header + render_chart(overrides)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if the committed manifests differ")
    p.add_argument("--set", action="append", default=[], help="key.path=value (YAML value)")
    p.add_argument("--out", type=Path, default=MANIFESTS / "raftstore.yaml")
    args = p.parse_args(argv)
    if args.set:
        overrides = yaml.safe_load((MANIFESTS / "values.yaml").read_text())
        for assignment in args.set:
            _set(overrides, assignment)
        text = render_chart(overrides)
    else:
        text = default_manifests()
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            print(f"{args.out} is stale: run python scripts/render_chart.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
