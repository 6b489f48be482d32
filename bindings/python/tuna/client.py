"""tuna.Client: the REST API client (tuna::Client) with the CLI's configuration rules and apply."""

from __future__ import annotations

import copy
import io
import pathlib
import tarfile
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

from . import _config, _tuna
from .codec import Resource, decode_any, manifest_files
from .errors import (AlreadyExistsError, ConflictError, DeadlineExceededError, InvalidArgumentError, NotFoundError,
                     TunaError)

_CONFLICT_RETRIES = 5
# Apply order: what others reference first (admission checks that references resolve).
_KIND_ORDER = [
    "AgentEnvironment", "AgentMemory", "MCPServerDeployment", "HTTPToolDeployment", "AgentDeployment",
    "AgentCatalogue", "AgentResourceBinding", "AgentBuild", "MCPServerBuild",
]


def canonical_kind(kind: str) -> str:
    """The canonical kind for a kind, plural, singular or short name ("ad" -> "AgentDeployment")."""
    found = _tuna.find_kind(kind)
    if found is None:
        names = ", ".join(k["plural"] for k in _tuna.kinds())
        raise InvalidArgumentError(f'unknown kind "{kind}"; the kinds are {names}')
    return found


def _snapshot(directory: pathlib.Path) -> bytes:
    """A tar.gz of a directory's files (``.git`` left out), entries sorted and owned by nobody so the
    same tree gives the same archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if relative.parts[0] == ".git":
                continue
            info = tar.gettarinfo(str(path), arcname=str(relative))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            elif info.isdir() or info.issym():
                tar.addfile(info)
    return buffer.getvalue()


def qualified_name(obj: Resource) -> str:
    """``agentdeployment.tuna.ai/echo``, as the CLI prints objects."""
    return f"{obj.get('kind', '').lower()}.tuna.ai/{obj.get('metadata', {}).get('name', '')}"


class WatchEvent(NamedTuple):
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``object`` the resource dict."""

    type: str
    object: Resource


@dataclass
class ApplyResult:
    """What apply did to one object: ``action`` is created, configured or unchanged."""

    action: str
    object: Resource  # as stored (for unchanged: as read)

    @property
    def name(self) -> str:
        return qualified_name(self.object)


class Watch:
    """An open watch: iterate it for WatchEvents; ``stop()`` (from any thread) or leaving a
    ``with`` block ends it. Iteration ends when the server closes the stream; an ERROR event
    raises (GoneError: re-list, then watch from the list's resourceVersion)."""

    def __init__(self, native: Any, initial: Optional[List[Resource]] = None) -> None:
        self._native = native
        self._initial = list(reversed(initial or []))  # popped from the end
        self.resource_version = ""  # of the last event (resume a watch from here)

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        event = self.next(None)
        assert event is not None  # without a timeout next() waits for an event or the end
        return event

    def next(self, timeout: Optional[float] = None) -> Optional[WatchEvent]:
        """The next event; None when ``timeout`` seconds pass first. StopIteration at the end."""
        if self._initial:
            event = WatchEvent("ADDED", self._initial.pop())
        else:
            got = self._native.next(timeout)
            if got is None:
                return None
            event = WatchEvent(*got)
        self.resource_version = event.object.get("metadata", {}).get("resourceVersion", self.resource_version)
        return event

    def stop(self) -> None:
        """Ends the stream (iteration then stops); safe from any thread."""
        self._initial = []
        self._native.stop()

    def close(self) -> None:
        """Ends the stream and waits for its background thread."""
        self._native.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _for_create(obj: Resource) -> Resource:
    # What a user may set; server-owned fields (from `tuna get -o yaml` output) are dropped.
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp"):
        meta.pop(key, None)
    out.pop("status", None)
    return out


def _user_fields(obj: Resource) -> Tuple[Any, Any, Any, Any]:
    meta = obj.get("metadata", {})
    spec = obj.get("spec") or {}  # an absent spec and an empty one mean the same
    return (spec, meta.get("labels") or {}, meta.get("annotations") or {}, meta.get("ownerReferences") or [])


def _for_update(desired: Resource, current: Resource) -> Resource:
    # The manifest's user fields on top of the current object's server-owned ones.
    out = copy.deepcopy(current)
    meta, want = out.setdefault("metadata", {}), desired.get("metadata", {})
    if "spec" in desired:
        out["spec"] = copy.deepcopy(desired["spec"])
    else:
        out.pop("spec", None)
    for key in ("labels", "annotations"):
        if want.get(key):
            meta[key] = dict(want[key])
        else:
            meta.pop(key, None)
    # A manifest without owners keeps the ones controllers set; an owner named without a uid
    # keeps the uid the server bound it to.
    if want.get("ownerReferences"):
        refs = copy.deepcopy(want["ownerReferences"])
        for ref in refs:
            if not ref.get("uid"):
                for have in current.get("metadata", {}).get("ownerReferences", []):
                    if have.get("kind") == ref.get("kind") and have.get("name") == ref.get("name"):
                        ref["uid"] = have.get("uid")
        meta["ownerReferences"] = refs
    return out


class Client:
    """A client of a tuna server's REST API.

    Settings come from the arguments, else the environment (TUNA_SERVER, TUNA_TOKEN,
    TUNA_TOKEN_FILE, TUNA_NAMESPACE, TUNA_CONFIG), else the CLI's config file, else the defaults
    (``http://127.0.0.1:7070``, namespace ``default``, no token): the same rules as ``tuna``.
    Every method raises a tuna.TunaError subclass on failure and releases the GIL while it waits
    on the network; a Client may be shared by threads.
    """

    def __init__(
        self,
        server: Optional[str] = None,
        token: Optional[str] = None,
        *,
        token_file: Optional[str] = None,
        namespace: Optional[str] = None,
        config: Optional[str] = None,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.config = _config.resolve(server, token, token_file, namespace, config)
        self.namespace = self.config.namespace
        self._namespace_given = namespace is not None
        self._native = _tuna.Client(self.config.server, self.config.token, timeout, connect_timeout)

    @property
    def server(self) -> str:
        """The server URL, without a trailing slash."""
        return self._native.server

    def __repr__(self) -> str:
        return f"tuna.Client(server={self.server!r}, namespace={self.namespace!r})"

    def _ns(self, namespace: Optional[str]) -> str:
        return self.namespace if namespace is None else namespace

    # ---- reading ---------------------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: Optional[str] = None) -> Resource:
        """One object as a dict. Raises NotFoundError when it does not exist."""
        return self._native.get(canonical_kind(kind), self._ns(namespace), name)

    def list(
        self,
        kind: str,
        namespace: Optional[str] = None,
        *,
        all_namespaces: bool = False,
        label_selector: Optional[str] = None,
        page_size: int = 0,
    ) -> List[Resource]:
        """Every object of a kind in a namespace (or all of them), ordered by namespace and name;
        ``label_selector`` takes Kubernetes syntax (``app=echo,tier!=web``)."""
        ns = "" if all_namespaces else self._ns(namespace)
        items: List[Resource] = self._native.list(canonical_kind(kind), ns, label_selector or "", page_size, "", True)["items"]
        return items

    def list_page(
        self,
        kind: str,
        namespace: Optional[str] = None,
        *,
        all_namespaces: bool = False,
        label_selector: Optional[str] = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> Dict[str, Any]:
        """One page: ``{"items": [...], "resourceVersion": "N", "continue": "..."}``."""
        ns = "" if all_namespaces else self._ns(namespace)
        return self._native.list(canonical_kind(kind), ns, label_selector or "", limit, continue_token, False)

    def watch(
        self,
        kind: str,
        namespace: Optional[str] = None,
        *,
        all_namespaces: bool = False,
        name: Optional[str] = None,
        label_selector: Optional[str] = None,
        resource_version: Optional[str] = None,
        send_initial_events: bool = True,
        timeout: Optional[float] = None,
    ) -> Watch:
        """Watches a kind. Without ``resource_version`` it lists first and begins with ADDED for
        every current object (unless ``send_initial_events`` is false), then carries every change
        after that list: a change made once watch() has returned is always seen. With one, it
        carries the changes after that version. ``timeout``: seconds after which the server ends
        the stream (default: the server's maximum)."""
        ns = "" if all_namespaces else self._ns(namespace)
        kind = canonical_kind(kind)
        initial: List[Resource] = []
        if not resource_version:
            listed = self._native.list(kind, ns, label_selector or "", 0, "", True)
            resource_version = listed["resourceVersion"]
            if send_initial_events:
                initial = [o for o in listed["items"] if not name or o["metadata"]["name"] == name]
        native = self._native.watch(
            kind, ns, name or "", label_selector or "", resource_version, False, float(timeout or 0),
        )
        return Watch(native, initial)

    def events(self, kind: str, name: str, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """Recent events of an object (what controllers did), oldest first."""
        return self._native.events(canonical_kind(kind), self._ns(namespace), name)

    # ---- logs, artifacts, repositories --------------------------------------------------------------
    def build_log(self, name: str, namespace: Optional[str] = None, *, kind: str = "AgentBuild",
                  offset: int = 0) -> Dict[str, Any]:
        """A piece of a build's log from ``offset``: ``{"text", "nextOffset", "complete", "phase"}``
        (kind AgentBuild or MCPServerBuild). ``complete`` once the build has ended and nothing is
        left after ``offset``."""
        return self._native.build_log(canonical_kind(kind), self._ns(namespace), name, int(offset))

    def follow_build_log(self, name: str, namespace: Optional[str] = None, *, kind: str = "AgentBuild",
                         poll: float = 0.5, timeout: Optional[float] = None) -> Iterator[str]:
        """Yields a build's log as it grows until the build ends (like ``tuna logs build/NAME -f``);
        DeadlineExceededError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        offset = 0
        while True:
            chunk = self.build_log(name, namespace, kind=kind, offset=offset)
            offset = chunk["nextOffset"]
            if chunk["text"]:
                yield chunk["text"]
            if chunk["complete"]:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineExceededError(f"build {name} still {chunk['phase'] or 'pending'} after {timeout} s")
            if not chunk["text"]:
                time.sleep(poll)

    def logs(self, kind: str, name: str, namespace: Optional[str] = None, *, stage: str = "staging",
             tail_bytes: int = 64 << 10) -> str:
        """What a stage's running revision wrote (kind AgentDeployment or MCPServerDeployment): the
        last ``tail_bytes`` (1 to 4 MiB) of each replica's output under a ``==> worker N <==``
        heading; for a Python agent, its ``ctx.log`` lines."""
        return str(self._native.deployment_logs(canonical_kind(kind), self._ns(namespace), name, stage, int(tail_bytes)))

    def upload_artifact(self, source: Any) -> str:
        """Stores an archive in the server's artifact store; returns its digest (``sha256:...``), for a
        source ``{"archive": "<digest>"}``. ``source``: the archive's bytes, a tar(.gz) file's path, or
        a directory, which is packed as a tar.gz snapshot (without ``.git``) as ``tuna apply`` does."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            path = pathlib.Path(source)
            data = _snapshot(path) if path.is_dir() else path.read_bytes()
        return str(self._native.upload_artifact(data))

    def create_repository(self, name: str, namespace: Optional[str] = None) -> Dict[str, str]:
        """Creates an empty git repository; returns ``{"name", "namespace", "url"}`` (``git push`` there)."""
        return dict(self._native.create_repository(self._ns(namespace), name))

    def list_repositories(self, namespace: Optional[str] = None) -> List[Dict[str, str]]:
        """The namespace's git repositories, by name."""
        return [dict(r) for r in self._native.list_repositories(self._ns(namespace))]

    def delete_repository(self, name: str, namespace: Optional[str] = None) -> None:
        """Deletes a git repository and its history (the deployments it made stay)."""
        self._native.delete_repository(self._ns(namespace), name)

    # ---- writing ---------------------------------------------------------------------------------
    def _prepared(self, obj: Resource) -> Resource:
        out = dict(obj)
        meta = dict(out.get("metadata") or {})
        meta.setdefault("namespace", self.namespace)
        out["metadata"] = meta
        if "kind" in out and isinstance(out["kind"], str):
            out["kind"] = canonical_kind(out["kind"])
        out.setdefault("apiVersion", "tuna.ai/v1alpha1")
        return out

    def create(self, obj: Resource, *, dry_run: bool = False) -> Resource:
        """Creates an object; returns it as stored. AlreadyExistsError when it exists."""
        return self._native.create(self._prepared(obj), dry_run)

    def update(self, obj: Resource, *, dry_run: bool = False) -> Resource:
        """Replaces an object; a ``metadata.resourceVersion`` must match (else ConflictError)."""
        return self._native.update(self._prepared(obj), False, dry_run)

    def update_status(self, obj: Resource, *, dry_run: bool = False) -> Resource:
        """Replaces an object's status sub-resource."""
        return self._native.update(self._prepared(obj), True, dry_run)

    def patch(
        self,
        kind: str,
        name: str,
        patch: Any,
        namespace: Optional[str] = None,
        *,
        status: bool = False,
        dry_run: bool = False,
    ) -> Resource:
        """Applies a JSON merge patch (RFC 7386; a dict or JSON text) to an object or its status."""
        return self._native.patch(canonical_kind(kind), self._ns(namespace), name, patch, status, dry_run)

    def delete(
        self,
        kind: Any,
        name: Optional[str] = None,
        namespace: Optional[str] = None,
        *,
        ignore_not_found: bool = False,
        resource_version: Optional[str] = None,
    ) -> Optional[Resource]:
        """Deletes an object, given as (kind, name) or as a resource dict; the server cascades to
        the objects it owns. Returns the deleted object (None when ignored as not found)."""
        if isinstance(kind, dict):
            meta = kind.get("metadata") or {}
            kind, name, namespace = kind.get("kind", ""), meta.get("name"), meta.get("namespace", namespace)
        if not name:
            raise InvalidArgumentError("delete needs a name", "metadata.name")
        try:
            return self._native.delete(canonical_kind(kind), self._ns(namespace), name, resource_version or "", "")
        except NotFoundError:
            if ignore_not_found:
                return None
            raise

    def apply(self, manifests: Any, *, namespace: Optional[str] = None, dry_run: bool = False) -> List[ApplyResult]:
        """Creates each object, or updates it when it exists, as ``tuna apply -f`` does.

        ``manifests``: a resource dict, a list of them, YAML/JSON text (many ``---`` documents, a
        ``kind: List``), or a ``pathlib.Path`` to a file or directory. Every document is decoded
        and schema-checked before anything is sent (InvalidArgumentError names the field path);
        objects are applied in dependency order; a conflicting concurrent write is retried.
        Server-owned fields (uid, resourceVersion, status, ...) in the manifests are ignored.
        """
        resources = self._resolved(decode_any(manifests), namespace)
        resources.sort(key=lambda r: _KIND_ORDER.index(r["kind"]) if r["kind"] in _KIND_ORDER else len(_KIND_ORDER))
        results = []
        for desired in resources:
            try:
                results.append(self._apply_one(desired, dry_run))
            except TunaError as e:
                raise type(e)(f"{qualified_name(desired)}: {e.message}", e.field) from e
        return results

    def apply_file(self, path: Any, *, namespace: Optional[str] = None, dry_run: bool = False) -> List[ApplyResult]:
        """apply() of a manifest file, or of every .yaml/.yml/.json file in a directory."""
        import pathlib

        manifest_files(path)  # NotFoundError for a missing path, before anything is sent
        return self.apply(pathlib.Path(path), namespace=namespace, dry_run=dry_run)

    def _resolved(self, resources: List[Resource], namespace: Optional[str]) -> List[Resource]:
        ns = namespace if namespace is not None else self.namespace
        strict = namespace is not None or self._namespace_given
        for r in resources:
            meta = r.setdefault("metadata", {})
            if not meta.get("name"):
                raise InvalidArgumentError("metadata.name: required field is missing", "metadata.name")
            if not meta.get("namespace"):
                meta["namespace"] = ns
            elif strict and meta["namespace"] != ns:
                raise InvalidArgumentError(
                    f'metadata.namespace: "{meta["namespace"]}" does not match the namespace "{ns}" given',
                    "metadata.namespace",
                )
        return resources

    def _apply_one(self, desired: Resource, dry_run: bool) -> ApplyResult:
        kind, meta = desired["kind"], desired["metadata"]
        last: Optional[TunaError] = None
        for _ in range(_CONFLICT_RETRIES):
            try:
                current = self._native.get(kind, meta["namespace"], meta["name"])
            except NotFoundError:
                try:
                    return ApplyResult("created", self._native.create(_for_create(desired), dry_run))
                except AlreadyExistsError as e:  # created meanwhile: update it
                    last = e
                    continue
            want = _for_update(desired, current)
            if _user_fields(want) == _user_fields(current):
                return ApplyResult("unchanged", current)
            try:
                updated = self._native.update(want, False, dry_run)
            except ConflictError as e:  # changed since we read it: read again
                last = e
                continue
            # The server may default fields the manifest leaves out; then nothing really changed.
            action = "unchanged" if _user_fields(updated) == _user_fields(current) else "configured"
            return ApplyResult(action, updated)
        assert last is not None
        raise type(last)(f"gave up after {_CONFLICT_RETRIES} conflicting attempts: {last.message}", last.field)

    # ---- the server ------------------------------------------------------------------------------
    def version(self) -> str:
        """The server's version."""
        return self._native.version()

    def health(self) -> bool:
        """True when the server answers /healthz; raises UnavailableError when it cannot be reached."""
        self._native.health()
        return True

    def api_resources(self) -> List[Dict[str, Any]]:
        """The kinds the server serves (kind, plural, singular, short_names, namespaced)."""
        return self._native.discovery()
