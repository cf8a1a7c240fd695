"""Keeps the newest version of one model loaded and swaps in new versions while serving.

A background thread polls BASE/MODEL_NAME every `poll_seconds`. When the newest version
directory changes it loads that version, replays its warmup requests, and only then
swaps it in, under a lock, as the version new requests get. Requests already running
hold a lease on the version they started with; a retired version is dropped when its
last lease ends, so a swap never fails a request in flight. A version that fails to load
(e.g. still being copied) is logged with its error and retried when its directory
changes; the current version keeps serving meanwhile, and at start the newest version
that loads is served.
"""

import contextlib
import dataclasses
import logging
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional

import grpc

from serving.errors import RequestRejected, shown
from models.export_layout import list_versions, read_warmup_requests
from serving.loaded_version import LoadedVersion, read_version_fingerprint

log = logging.getLogger(__name__)

# TF Serving's ModelVersionStatus.State names.
LOADING, AVAILABLE, UNLOADING, END = "LOADING", "AVAILABLE", "UNLOADING", "END"
_KEEP_FINISHED_STATES = 10


@dataclasses.dataclass
class VersionState:
    version: int
    state: str
    error: str = ""


class ModelRegistry:
    """The served versions of one model, with hot swapping and per-request leases.

    Args:
        model_name: the name clients put in ModelSpec.name.
        model_base_path: BASE/MODEL_NAME, holding one directory per integer version.
        poll_seconds: how often to look for a new version (0 disables polling).
        warm_up: called with a freshly loaded version and its recorded warmup requests
            before the version is served; raising keeps the version out.

    Example:

    >>> import tempfile, os
    >>> from support.serving_models import write_lexical_model
    >>> base = os.path.join(tempfile.mkdtemp(), "relevance_student")
    >>> _ = write_lexical_model(os.path.join(base, "1"))
    >>> registry = ModelRegistry("relevance_student", base, poll_seconds=0)
    >>> registry.start()
    >>> with registry.acquire() as version:
    ...     version.version
    1
    >>> registry.stop()
    """

    def __init__(self, model_name: str, model_base_path: str, poll_seconds: float = 2.0,
                 warm_up: Optional[Callable[[LoadedVersion, List], int]] = None):
        self.model_name = model_name
        self.model_base_path = model_base_path
        self.poll_seconds = poll_seconds
        self._warm_up = warm_up
        self._lock = threading.Lock()
        self._current: Optional[LoadedVersion] = None
        self._draining: List[LoadedVersion] = []
        self._states: Dict[int, VersionState] = {}
        self._failed: Dict[int, tuple] = {}  # version -> fingerprint that failed to load
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._poll_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Loads the newest version now (if any), then polls in a daemon thread."""
        self.poll_once()
        if self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll_loop, daemon=True,
                                            name=f"poll-{self.model_name}")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # polling must outlive any one bad directory
                log.exception("polling %s failed", self.model_base_path)

    # -- loading -----------------------------------------------------------------------

    def poll_once(self) -> bool:
        """Serves the newest version that loads; True if it swapped.

        Versions are tried newest first, down to the one served: a newest version that
        fails (a truncated copy, say) leaves the next one to serve, where TF Serving's
        "latest" policy would serve nothing. A version that failed is tried again only
        once its directory changes.
        """
        with self._poll_lock:
            versions = list_versions(self.model_base_path)
            if not versions:
                if self._current is not None:
                    log.warning("no version left under %s; still serving version %d from memory",
                                self.model_base_path, self._current.version)
                return False
            # If the served directory was deleted, an older one takes over again.
            for version, path in reversed(versions):
                if self._current is not None and self._current.version == version:
                    return False
                fingerprint = read_version_fingerprint(path)
                if self._failed.get(version) == fingerprint:
                    continue
                if self._load_and_swap(version, path, fingerprint):
                    return True
            return False

    def _load_and_swap(self, version: int, path: str, fingerprint) -> bool:
        self._set_state(version, LOADING)
        started = time.monotonic()
        try:
            loaded = LoadedVersion.load(version, path)
            calls = self._warm_up(loaded, read_warmup_requests(path)) if self._warm_up else 0
            if read_version_fingerprint(path) != fingerprint:
                raise RuntimeError("the version directory changed while loading (still being copied?)")
        except Exception as error:
            self._failed[version] = fingerprint
            message = str(error).strip().split("\n")[0]
            self._set_state(version, END, f"failed to load: {message}")
            log.error("model %s version %d at %s failed to load, keeping %s: %s",
                      self.model_name, version, path,
                      f"version {self._current.version}" if self._current else "nothing", message)
            return False
        self._failed.pop(version, None)
        with self._lock:
            old, self._current = self._current, loaded
            self._states[version] = VersionState(version, AVAILABLE)
            if old is not None:
                old.retired = True
                self._states[old.version] = VersionState(old.version, UNLOADING)
                if old.leases:
                    self._draining.append(old)
                else:
                    self._states[old.version] = VersionState(old.version, END)
                    log.info("model %s version %d unloaded", self.model_name, old.version)
        log.info("model %s version %d loaded from %s in %.1fs (%d warmup calls)%s",
                 self.model_name, version, path, time.monotonic() - started, calls,
                 f"; version {old.version} retired" if old else "")
        return True

    def _set_state(self, version: int, state: str, error: str = "") -> None:
        with self._lock:
            self._states[version] = VersionState(version, state, error)
            # Keep the status list short on servers that live through many pushes.
            finished = sorted(v for v, s in self._states.items() if s.state == END)
            for old in finished[:-_KEEP_FINISHED_STATES]:
                del self._states[old]

    # -- serving -----------------------------------------------------------------------

    @contextlib.contextmanager
    def acquire(self, version: Optional[int] = None) -> Iterator[LoadedVersion]:
        """The served version (or `version`, which must be the served one) for one request."""
        with self._lock:
            loaded = self._current
            if loaded is None:
                raise RequestRejected(
                    grpc.StatusCode.UNAVAILABLE,
                    f"model '{self.model_name}' has no loaded version yet "
                    f"(watching {self.model_base_path})",
                )
            if version is not None and version != loaded.version:
                raise RequestRejected(
                    grpc.StatusCode.NOT_FOUND,
                    f"model '{self.model_name}' version {version} is not loaded; "
                    f"the served version is {loaded.version}",
                )
            loaded.leases += 1
        try:
            yield loaded
        finally:
            self._release(loaded)

    def _release(self, loaded: LoadedVersion) -> None:
        with self._lock:
            loaded.leases -= 1
            if loaded.retired and loaded.leases == 0 and loaded in self._draining:
                # Dropping the last reference lets TF free the retired graph and variables.
                self._draining.remove(loaded)
                self._states[loaded.version] = VersionState(loaded.version, END)
                log.info("model %s version %d unloaded", self.model_name, loaded.version)

    def resolve(self, name: str, version: Optional[int] = None, label: str = "") -> Optional[int]:
        """Checks a request's model name / version label; returns the version asked for."""
        if not name:
            raise RequestRejected(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"model_spec.name is empty; this server serves '{self.model_name}'")
        if name != self.model_name:
            raise RequestRejected(grpc.StatusCode.NOT_FOUND,
                                  f"no model named {shown(name)} is served here; this server serves "
                                  f"'{self.model_name}'")
        if label:
            # TF Serving answers unknown labels with INVALID_ARGUMENT; this server assigns none.
            raise RequestRejected(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"version label {shown(label)} is not assigned; ask for a version "
                                  "number, or none for the newest")
        return version

    @property
    def current_version(self) -> Optional[int]:
        with self._lock:
            return self._current.version if self._current else None

    def is_available(self) -> bool:
        return self.current_version is not None

    def version_states(self) -> List[VersionState]:
        """Every version seen so far, newest first (TF Serving's GetModelStatus view)."""
        with self._lock:
            return [dataclasses.replace(s) for _, s in sorted(self._states.items(), reverse=True)]

    def draining_versions(self) -> List[int]:
        with self._lock:
            return [v.version for v in self._draining]

    def wait_until_available(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.is_available():
                return True
            time.sleep(0.05)
        return self.is_available()
