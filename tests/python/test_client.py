"""tuna.Client against a real `tuna server`: apply/get/list/watch/delete with dicts and YAML."""

import threading
import time
from pathlib import Path

import pytest

import tuna

from conftest import wait_for


def memory(name, **spec):
    return {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", "metadata": {"name": name},
            "spec": {"type": "kv", **spec}}


@pytest.fixture(scope="module")
def client(tuna_server):
    return tuna.Client(tuna_server.url, tuna_server.token)


def test_create_get_list_delete_with_dicts(client):
    created = client.create(memory("crud-a", maxEntries=5))
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    got = client.get("agentmemory", "crud-a")
    assert got["spec"] == {"type": "kv", "maxEntries": 5}
    assert isinstance(got, dict)
    client.create(memory("crud-b"))
    names = [o["metadata"]["name"] for o in client.list("AgentMemory") if o["metadata"]["name"].startswith("crud-")]
    assert names == ["crud-a", "crud-b"]
    with pytest.raises(tuna.AlreadyExistsError):
        client.create(memory("crud-a"))
    deleted = client.delete("agentmemories", "crud-a")
    assert deleted["metadata"]["name"] == "crud-a"
    with pytest.raises(tuna.NotFoundError) as info:
        client.get("AgentMemory", "crud-a")
    assert "request id" in str(info.value)
    assert client.delete("AgentMemory", "crud-a", ignore_not_found=True) is None
    client.delete(client.get("AgentMemory", "crud-b"))


def test_update_with_a_stale_resource_version_conflicts(client):
    first = client.create(memory("stale"))
    fresh = dict(first, spec={"type": "kv", "maxEntries": 1})
    client.update(fresh)
    stale = dict(first, spec={"type": "kv", "maxEntries": 2})
    with pytest.raises(tuna.ConflictError):
        client.update(stale)
    patched = client.patch("AgentMemory", "stale", {"spec": {"maxEntries": 3}})
    assert patched["spec"]["maxEntries"] == 3
    client.delete("AgentMemory", "stale")


def test_apply_yaml_text_creates_configures_and_leaves_unchanged(client):
    text = """\
apiVersion: tuna.ai/v1alpha1
kind: AgentMemory
metadata: {name: applied-one}
spec: {type: conversation, ttlSeconds: 60}
---
apiVersion: tuna.ai/v1alpha1
kind: AgentMemory
metadata: {name: applied-two, labels: {app: demo}}
spec: {type: kv}
"""
    results = client.apply(text)
    assert [(r.name, r.action) for r in results] == [
        ("agentmemory.tuna.ai/applied-one", "created"), ("agentmemory.tuna.ai/applied-two", "created")]
    assert [r.action for r in client.apply(text)] == ["unchanged", "unchanged"]
    results = client.apply(text.replace("ttlSeconds: 60", "ttlSeconds: 120"))
    assert [r.action for r in results] == ["configured", "unchanged"]
    assert client.get("AgentMemory", "applied-one")["spec"]["ttlSeconds"] == 120
    # What `get` returns re-applies cleanly: server-owned fields are ignored.
    assert client.apply(client.get("AgentMemory", "applied-one"))[0].action == "unchanged"
    assert [o["metadata"]["name"] for o in client.list("AgentMemory", label_selector="app=demo")] == ["applied-two"]
    dry = client.apply(memory("dry-only"), dry_run=True)
    assert dry[0].action == "created"
    with pytest.raises(tuna.NotFoundError):
        client.get("AgentMemory", "dry-only")


def test_apply_a_file_and_a_directory(client, tmp_path):
    (tmp_path / "m.yaml").write_text(tuna.to_yaml(memory("from-file")))
    assert client.apply_file(tmp_path / "m.yaml")[0].action == "created"
    assert client.apply(Path(tmp_path))[0].action == "unchanged"
    with pytest.raises(tuna.NotFoundError):
        client.apply_file(tmp_path / "missing.yaml")


def test_bad_manifests_raise_invalid_argument_naming_the_field(client):
    with pytest.raises(tuna.InvalidArgumentError) as info:
        client.apply(memory("bad", maxEntries="lots"))
    assert info.value.field == "spec.maxEntries"
    text = "apiVersion: tuna.ai/v1alpha1\nkind: AgentMemory\nmetadata: {name: bad}\nspec:\n  type: kv\n  colour: red\n"
    with pytest.raises(tuna.InvalidArgumentError) as info:
        client.apply(text)
    assert info.value.field == "spec.colour" and ":6" in str(info.value)
    with pytest.raises(tuna.InvalidArgumentError) as info:
        client.apply({"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", "metadata": {}, "spec": {"type": "kv"}})
    assert info.value.field == "metadata.name"
    # Nothing of a stream with a bad document is sent.
    with pytest.raises(tuna.InvalidArgumentError):
        client.apply([memory("good-but-not-sent"), memory("bad", type="graph")])
    with pytest.raises(tuna.NotFoundError):
        client.get("AgentMemory", "good-but-not-sent")


def test_server_side_validation_errors_keep_the_field(client):
    # create() sends without the client-side schema check: the server's admission answers 422.
    with pytest.raises(tuna.InvalidArgumentError) as info:
        client.create(memory("srv-bad", maxEntries=-1))
    assert info.value.field == "spec.maxEntries"
    assert "request id" in str(info.value)


def test_namespace_given_to_apply_must_match_the_manifest(client):
    obj = memory("elsewhere")
    obj["metadata"]["namespace"] = "other"
    with pytest.raises(tuna.InvalidArgumentError) as info:
        client.apply(obj, namespace="default")
    assert info.value.field == "metadata.namespace"
    assert client.apply(obj)[0].object["metadata"]["namespace"] == "other"
    assert [o["metadata"]["namespace"] for o in client.list("AgentMemory", all_namespaces=True)
            if o["metadata"]["name"] == "elsewhere"] == ["other"]


def test_watch_sees_adds_changes_and_deletes_then_stops(client):
    seen = []
    with client.watch("AgentMemory", label_selector="watch=me") as w:
        client.apply(memory("watched") | {"metadata": {"name": "watched", "labels": {"watch": "me"}}})

        def collect():
            event = w.next(timeout=0.2)
            if event is not None:
                seen.append((event.type, event.object["metadata"]["name"], event.object.get("spec", {})))
            return len(seen) >= 3

        client.patch("AgentMemory", "watched", {"spec": {"maxEntries": 7}})
        client.delete("AgentMemory", "watched")
        wait_for(collect)
        w.stop()
        with pytest.raises(StopIteration):
            while True:
                next(w)
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]
    assert seen[1][2]["maxEntries"] == 7


def test_watch_begins_with_the_current_objects(client):
    labelled = [memory(n) for n in ("initial-a", "initial-b")]
    for obj in labelled:
        obj["metadata"]["labels"] = {"initial": "yes"}
    client.apply(labelled)
    with client.watch("AgentMemory", label_selector="initial=yes") as w:
        first = [w.next(timeout=10) for _ in range(2)]
        assert w.next(timeout=0.3) is None
    assert [(e.type, e.object["metadata"]["name"]) for e in first] == [("ADDED", "initial-a"), ("ADDED", "initial-b")]
    with client.watch("AgentMemory", name="initial-b") as w:
        event = w.next(timeout=10)
        assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "initial-b")
        assert w.resource_version == event.object["metadata"]["resourceVersion"]
        assert w.next(timeout=0.3) is None


def test_watch_from_a_resource_version_and_stop_from_another_thread(client):
    client.create(memory("before-watch"))
    page = client.list_page("AgentMemory")
    w = client.watch("AgentMemory", resource_version=page["resourceVersion"])
    client.create(memory("after-watch"))
    first = next(iter(w))
    assert (first.type, first.object["metadata"]["name"]) == ("ADDED", "after-watch")
    # A thread blocked in next() (GIL released) ends when another thread stops the watch.
    ended = threading.Event()

    def drain():
        for _ in w:
            pass
        ended.set()

    t = threading.Thread(target=drain)
    t.start()
    time.sleep(0.3)
    w.stop()
    t.join(timeout=10)
    assert ended.is_set()
    w.close()


def test_blocking_calls_release_the_gil(client):
    # Another Python thread keeps running while this one waits in a watch and in requests.
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    with client.watch("AgentMemory", send_initial_events=False) as w:
        assert w.next(timeout=1.0) is None
    stop.set()
    t.join()
    assert len(ticks) > 20


def test_auth_and_connection_errors(tuna_server):
    with pytest.raises(tuna.UnauthenticatedError):
        tuna.Client(tuna_server.url, "wrong-token").list("AgentMemory")
    with pytest.raises(tuna.UnavailableError) as info:
        tuna.Client("http://127.0.0.1:1", "t", connect_timeout=2).get("AgentMemory", "x")
    assert "127.0.0.1:1" in str(info.value)
    with pytest.raises(tuna.InvalidArgumentError):
        tuna.Client("ftp://example", "t")


def test_discovery_events_and_version(client):
    kinds = {k["kind"] for k in client.api_resources()}
    assert "AgentDeployment" in kinds and len(kinds) == 9
    assert client.version() == tuna.__version__
    client.apply(memory("with-events"))
    assert isinstance(client.events("AgentMemory", "with-events"), list)


def test_ctrl_c_interrupts_a_blocked_watch(tuna_server):
    # A program iterating a quiet watch gets KeyboardInterrupt on SIGINT, as Python code expects.
    import signal
    import subprocess
    import sys

    code = (
        "import sys, tuna\n"
        f"c = tuna.Client({tuna_server.url!r}, {tuna_server.token!r})\n"
        "w = c.watch('AgentMemory', label_selector='never=set')\n"
        "print('watching', flush=True)\n"
        "try:\n"
        "    for e in w: pass\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    w.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=tuna_server.env())
    try:
        assert proc.stdout.readline().strip() == "watching"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.strip() == "interrupted" and proc.returncode == 0


def test_repositories_and_artifact_upload(client, tmp_path):
    import hashlib
    import tarfile
    repo = client.create_repository("py-client-repo")
    assert repo["name"] == "py-client-repo" and repo["namespace"] == "default"
    assert repo["url"].endswith("/git/default/py-client-repo.git"), repo
    assert "py-client-repo" in [r["name"] for r in client.list_repositories()]
    with pytest.raises(tuna.AlreadyExistsError):
        client.create_repository("py-client-repo")
    with pytest.raises(tuna.InvalidArgumentError):
        client.create_repository("Not A Name")
    client.delete_repository("py-client-repo")
    assert "py-client-repo" not in [r["name"] for r in client.list_repositories()]
    with pytest.raises(tuna.NotFoundError):
        client.delete_repository("py-client-repo")

    # An archive's bytes, its file, or a directory packed as a snapshot.
    src = tmp_path / "agent"
    (src / "pkg").mkdir(parents=True)
    (src / "agent.py").write_text("print('hi')\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    digest = client.upload_artifact(src)
    assert digest.startswith("sha256:")
    assert client.upload_artifact(src) == digest  # the same tree gives the same archive
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "agent.py", arcname="agent.py")
    data = archive.read_bytes()
    assert client.upload_artifact(data) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.upload_artifact(archive) == "sha256:" + hashlib.sha256(data).hexdigest()
    with pytest.raises(tuna.InvalidArgumentError, match="empty"):
        client.upload_artifact(b"")
