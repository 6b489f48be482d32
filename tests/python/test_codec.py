"""The resource codec: YAML/JSON text and dicts to validated resources, with path-precise errors."""

import pytest

import tuna

MEMORY_YAML = """\
apiVersion: tuna.ai/v1alpha1
kind: AgentMemory
metadata:
  name: history
spec:
  type: conversation
  ttlSeconds: 60
---
apiVersion: tuna.ai/v1alpha1
kind: AgentMemory
metadata:
  name: notes
  labels: {team: a}
spec:
  type: kv
"""


def test_version_matches_the_cmake_project():
    import re
    from pathlib import Path

    cmake = (Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text()
    assert tuna.__version__ == re.search(r"project\(tuna VERSION ([0-9.]+)", cmake).group(1)


def test_decode_multi_document_yaml():
    objs = tuna.decode(MEMORY_YAML, "memories.yaml")
    assert [o["metadata"]["name"] for o in objs] == ["history", "notes"]
    assert objs[0]["spec"] == {"type": "conversation", "ttlSeconds": 60}
    assert objs[1]["metadata"]["labels"] == {"team": "a"}


def test_decode_expands_a_list():
    text = '{"kind": "List", "items": [{"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", ' \
           '"metadata": {"name": "a"}, "spec": {"type": "kv"}}]}'
    assert [o["metadata"]["name"] for o in tuna.decode(text)] == ["a"]


def test_unknown_field_names_path_file_and_line():
    bad = MEMORY_YAML.replace("  ttlSeconds: 60", "  ttlSecond: 60")
    with pytest.raises(tuna.InvalidArgumentError) as info:
        tuna.decode(bad, "memories.yaml")
    assert info.value.field == "spec.ttlSecond"
    assert str(info.value).startswith("memories.yaml:7")
    assert "ttlSeconds" in str(info.value)  # the suggestion


def test_bad_type_in_second_document_names_the_document():
    bad = MEMORY_YAML.replace("  type: kv", "  type: kv\n  maxEntries: many")
    with pytest.raises(tuna.InvalidArgumentError) as info:
        tuna.decode(bad, "m.yaml")
    assert info.value.field == "spec.maxEntries"
    assert "document 2" in str(info.value)


def test_yaml_syntax_error_names_line():
    with pytest.raises(tuna.InvalidArgumentError) as info:
        tuna.decode("kind: [unclosed\n", "broken.yaml")
    assert "broken.yaml" in str(info.value)


def test_validate_dict_and_its_errors():
    obj = {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", "metadata": {"name": "m"},
           "spec": {"type": "kv", "maxEntries": 0}}
    checked = tuna.validate(obj)
    assert checked["spec"] == {"type": "kv", "maxEntries": 0}
    assert checked["metadata"] == {"name": "m"}
    obj["spec"]["type"] = "graph"
    with pytest.raises(tuna.InvalidArgumentError) as info:
        tuna.validate(obj)
    assert info.value.field == "spec.type"
    with pytest.raises(tuna.InvalidArgumentError) as info:
        tuna.validate({"apiVersion": "tuna.ai/v1alpha1", "kind": "Nonsense", "metadata": {"name": "x"}})
    assert info.value.field == "kind"


def test_values_that_are_not_json_are_type_errors():
    with pytest.raises(TypeError, match=r"spec\.when"):
        tuna.validate({"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", "metadata": {"name": "m"},
                       "spec": {"when": object()}})


def test_load_yaml_and_to_yaml_round_trip():
    value = {"a": [1, 2.5, True, None, "x"], "b": {"c": "multi\nline"}}
    assert tuna.load_yaml(tuna.to_yaml(value)) == [value]


def test_decode_file_reads_a_directory_in_name_order(tmp_path):
    (tmp_path / "b.yaml").write_text(MEMORY_YAML)
    (tmp_path / "a.json").write_text('{"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", '
                                     '"metadata": {"name": "first"}, "spec": {"type": "kv"}}')
    (tmp_path / "notes.txt").write_text("ignored")
    names = [o["metadata"]["name"] for o in tuna.decode_file(tmp_path)]
    assert names == ["first", "history", "notes"]
    with pytest.raises(tuna.NotFoundError):
        tuna.decode_file(tmp_path / "missing.yaml")


def test_kinds_and_kind_names():
    assert len(tuna.kinds()) == 9
    assert tuna.canonical_kind("ad") == "AgentDeployment"
    assert tuna.canonical_kind("agentmemories") == "AgentMemory"
    with pytest.raises(tuna.InvalidArgumentError, match="unknown kind"):
        tuna.canonical_kind("agentdeploymnt")
