"""Read a CloudFormation/SAM template exactly as aws-sam-cli's ``samcli.yamlhelper.yaml_parse`` does.

JSON first (``json.loads``); otherwise PyYAML's safe loader, where every ``!Tag`` becomes its long form
(``!Ref X`` -> ``{"Ref": "X"}``, ``!Sub s`` -> ``{"Fn::Sub": s}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt":
["A", "B"]}``) and YAML timestamps stay strings (``2010-09-09`` is text, as CloudFormation reads it).
The constructors are the same as SAM CLI's, copied here rather than imported because ``yaml_parse``
installs them on PyYAML's global ``SafeLoader`` (changing ``yaml.safe_load`` for the whole process);
ours live on a private loader class. ``tests/dev/test_template.py`` compares both on the same inputs.
"""

from __future__ import annotations

import json
from typing import Any

from serverless_jwt._extras import requires

with requires("local", "Reading a SAM template"):
    import yaml
    from yaml import YAMLError
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["YAMLError", "yaml_parse"]


class _CfnLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus CloudFormation tags; timestamps read as plain strings."""


def _intrinsic(loader: _CfnLoader, _suffix: str, node: Node) -> dict[str, Any]:
    tag = node.tag[1:]
    name = tag if tag in ("Ref", "Condition") else "Fn::" + tag
    value: Any
    if tag == "GetAtt" and isinstance(node.value, str):
        value = node.value.split(".", 1)  # shorthand Resource.Attribute
    elif isinstance(node, ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, SequenceNode):
        value = loader.construct_sequence(node)
    else:
        assert isinstance(node, MappingNode)
        value = loader.construct_mapping(node)
    return {name: value}


def _mapping(loader: _CfnLoader, node: MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)  # YAML merge keys (<<)
    return dict(loader.construct_pairs(node))


def _timestamp_as_text(loader: _CfnLoader, node: Node) -> str:
    assert isinstance(node, ScalarNode)
    return loader.construct_scalar(node)  # what PyYAML's str constructor does


_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_CfnLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_CfnLoader.add_multi_constructor("!", _intrinsic)


def yaml_parse(text: str) -> Any:
    """The document in ``text`` (JSON or YAML with CloudFormation tags); ``yaml.YAMLError`` when invalid."""
    try:
        return json.loads(text)
    except ValueError:
        return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
