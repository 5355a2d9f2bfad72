"""Read a CloudFormation/SAM template: PyYAML when installed, else the YAML subset templates use.

The library does not depend on PyYAML (Lambda packages stay small), so the dev tools carry a reader for
what SAM templates are written in: block mappings and sequences, plain and quoted scalars, ``|`` and
``>`` block scalars, one-line flow collections, comments, and the CloudFormation short-form tags
(``!Ref X`` becomes ``{"Ref": "X"}``, ``!Sub s`` becomes ``{"Fn::Sub": s}``). Anything else (anchors,
multi-line flow collections) is refused with its line number.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from serverless_jwt.errors import ConfigurationError

__all__ = ["cfn_tag", "load", "parse_subset"]

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


def load(text: str) -> Any:
    """Parse template text (JSON or YAML) into plain dicts, lists and scalars."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise ConfigurationError("template is not valid JSON") from None
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        return parse_subset(text)

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def tagged(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return cfn_tag("!" + suffix, loader.construct_scalar(node))
        if isinstance(node, yaml.SequenceNode):
            return cfn_tag("!" + suffix, loader.construct_sequence(node, deep=True))
        return cfn_tag("!" + suffix, loader.construct_mapping(node, deep=True))

    Loader.add_multi_constructor("!", tagged)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigurationError(f"template is not valid YAML{where}") from None


def parse_subset(text: str) -> Any:
    """Parse the YAML subset described in the module docstring (no PyYAML needed)."""
    return _Parser(text).document()


def cfn_tag(tag: str, value: Any) -> dict[str, Any]:
    """The long form of a CloudFormation short-form tag."""
    name = tag[1:]
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + name: value}


def _scalar(text: str) -> Any:
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _fold(lines: list[str]) -> str:
    # Folded style: lines of a paragraph join with spaces; each blank line becomes one newline.
    out = ""
    for k, line in enumerate(lines):
        if k and line.strip() and lines[k - 1].strip():
            out += " "
        out += line if line.strip() else "\n"
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.raw = text.splitlines()
        self.lines: list[tuple[int, str, int] | None] = [
            self._clean(n, line) for n, line in enumerate(self.raw)
        ]

    def fail(self, lineno: int, what: str) -> ConfigurationError:
        return ConfigurationError(f"template line {lineno + 1}: {what} (install PyYAML to read any YAML)")

    def _clean(self, n: int, line: str) -> tuple[int, str, int] | None:
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise self.fail(n, "tab indentation")
        text = self._strip_comment(line).rstrip()
        if not text.strip() or text.strip() in ("---", "..."):
            return None
        return (len(text) - len(text.lstrip()), text.strip(), n)

    @staticmethod
    def _strip_comment(line: str) -> str:
        quote = None
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                return line[:i]
        return line

    def _next(self, i: int) -> int:
        while i < len(self.lines) and self.lines[i] is None:
            i += 1
        return i

    def document(self) -> Any:
        i = self._next(0)
        if i >= len(self.lines):
            return None
        line = self.lines[i]
        assert line is not None
        value, i = self.block(i, line[0])
        i = self._next(i)
        if i < len(self.lines):
            raise self.fail(self.lines[i][2] if self.lines[i] else i, "unexpected indentation")  # type: ignore[index]
        return value

    def block(self, i: int, indent: int) -> tuple[Any, int]:
        line = self.lines[i]
        assert line is not None
        if line[1] == "-" or line[1].startswith("- "):
            return self.sequence(i, indent)
        return self.mapping(i, indent)

    def sequence(self, i: int, indent: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        while (i := self._next(i)) < len(self.lines):
            ind, text, n = self.lines[i]  # type: ignore[misc]
            if ind < indent or not (text == "-" or text.startswith("- ")):
                break
            if ind > indent:
                raise self.fail(n, "unexpected indentation")
            rest = text[1:].lstrip()
            if not rest:
                value, i = self.nested(i + 1, indent, n)
            elif rest.startswith("- ") or self._key_split(rest) is not None:
                # "- key: value" opens a mapping (or sequence) whose column is that of "key".
                self.lines[i] = (ind + len(text) - len(rest), rest, n)
                value, i = self.block(i, ind + len(text) - len(rest))
            else:
                value, i = self.inline(rest, n), i + 1
            out.append(value)
        return out, i

    def mapping(self, i: int, indent: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        while (i := self._next(i)) < len(self.lines):
            ind, text, n = self.lines[i]  # type: ignore[misc]
            if ind < indent:
                break
            if ind > indent:
                raise self.fail(n, "unexpected indentation")
            split = self._key_split(text)
            if split is None:
                if text.startswith("- "):
                    break
                raise self.fail(n, "expected 'key: value'")
            key, rest = split
            value: Any
            if rest in ("|", "|-", "|+", ">", ">-", ">+"):
                value, i = self.block_scalar(i + 1, indent, rest)
            elif not rest or (rest.startswith("!") and " " not in rest):
                value, i = self.nested(i + 1, indent, n, same_level_sequence=True)
                if rest:
                    value = cfn_tag(rest, value)
            else:
                value, i = self.inline(rest, n), i + 1
            out[key] = value
        return out, i

    def nested(self, i: int, indent: int, n: int, *, same_level_sequence: bool = False) -> tuple[Any, int]:
        j = self._next(i)
        if j < len(self.lines):
            ind, text, _ = self.lines[j]  # type: ignore[misc]
            if ind > indent or (same_level_sequence and ind == indent and text.startswith("- ")):
                return self.block(j, ind)
        return None, j

    def block_scalar(self, i: int, indent: int, style: str) -> tuple[str, int]:
        body: list[str] = []
        while i < len(self.raw):
            raw = self.raw[i]
            if raw.strip() and len(raw) - len(raw.lstrip()) <= indent:
                break
            body.append(raw)
            i += 1
        while body and not body[-1].strip():
            body.pop()  # trailing blank lines belong to no one under clip/strip chomping
        width = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        lines = [b[width:] for b in body]
        text = "\n".join(lines) if style[0] == "|" else _fold(lines)
        return (text if style.endswith("-") else text + "\n"), i

    @staticmethod
    def _key_split(text: str) -> tuple[str, str] | None:
        quote = text[0] if text[:1] in ("'", '"') else None
        start = text.index(quote, 1) + 1 if quote and quote in text[1:] else 0
        for m in re.finditer(r":(\s|$)", text[start:]):
            key = text[: start + m.start()].strip()
            if key and key[0] not in "[{!&*":
                value = text[start + m.end():].strip()
                return (key[1:-1] if quote else key), value
        return None

    def inline(self, text: str, n: int) -> Any:
        value, pos = self._flow(text, 0, n, top=True)
        if text[pos:].strip():
            raise self.fail(n, "unexpected text after a value")
        return value

    def _flow(self, text: str, pos: int, n: int, *, top: bool = False) -> tuple[Any, int]:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text):
            return None, pos
        ch = text[pos]
        if ch in "&*":
            raise self.fail(n, "anchors and aliases are not supported")
        if ch == "!":
            tag = re.match(r"![A-Za-z]+", text[pos:])
            if tag is None:
                raise self.fail(n, "unknown tag")
            value, pos = self._flow(text, pos + tag.end(), n, top=top)
            return cfn_tag(tag.group(), "" if value is None else value), pos
        if ch in "[{":
            return self._collection(text, pos, n)
        if ch == '"':
            m = re.match(r'"((?:[^"\\]|\\.)*)"', text[pos:])
            if m is None:
                raise self.fail(n, "unterminated string")
            return json.loads(m.group()), pos + m.end()
        if ch == "'":
            m = re.match(r"'((?:[^']|'')*)'", text[pos:])
            if m is None:
                raise self.fail(n, "unterminated string")
            return m.group(1).replace("''", "'"), pos + m.end()
        if top:
            return _scalar(text[pos:].strip()), len(text)
        m = re.match(r"[^,\]}]*", text[pos:])
        assert m is not None
        return _scalar(m.group().strip()), pos + m.end()

    def _collection(self, text: str, pos: int, n: int) -> tuple[Any, int]:
        closing = "]" if text[pos] == "[" else "}"
        items: list[Any] = []
        pairs: dict[str, Any] = {}
        pos += 1
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos >= len(text):
                raise self.fail(n, "multi-line flow collections are not supported")
            if text[pos] == closing:
                return (items if closing == "]" else pairs), pos + 1
            if closing == "}":
                m = re.match(r"\s*(\"[^\"]*\"|'[^']*'|[^:,}]+):\s*", text[pos:])
                if m is None:
                    raise self.fail(n, "expected 'key: value' in a flow mapping")
                key = m.group(1).strip().strip("'\"")
                pairs[key], pos = self._flow(text, pos + m.end(), n)
            else:
                value, pos = self._flow(text, pos, n)
                items.append(value)
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
