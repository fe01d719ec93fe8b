"""effectpy showcase: a small import job on real parts, watched while it runs.

Run it with `make demo` (or `python examples/showcase.py [--live | --plain]`). It needs
no network, takes about two seconds and leaves nothing behind. In order, it shows:

1. Resources as layers: a JSON API served over HTTP on 127.0.0.1 (from a thread) and
   a SQLite file in a temporary directory, each started with `Effect.acquire_release`
   in a `Layer.scoped` and stopped when the program ends, however it ends.
2. An import: users and posts fetched in parallel (`urllib` in `Effect.blocking`),
   each attempt with a timeout, failed attempts retried with exponential backoff,
   concurrent requests for one path shared (`Effect.dedupe`), at most three requests
   at once (a `Semaphore`), all written to SQLite in one transaction (committed on
   success, rolled back on any failure). A task tree shows the progress: drawn live
   with rich in a terminal, as plain lines in a log. Log lines carry request ids.
3. A failing branch: three drafts are published in one transaction, and draft 3 is
   invalid. Its failure interrupts the other two, their finalizers run, the
   transaction rolls back. We print the fibers and scopes while they run
   (`debug_tree`), and the cause of the failure as effectpy reports it.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Never, TypeVar

from showcase_server import DRAFTS, ApiServer

from effectpy import (
    Do,
    Effect,
    Exit,
    Failure,
    Fiber,
    Interrupt,
    Layer,
    Schedule,
    Scope,
    Signal,
    Tag,
    debug_tree,
    gen,
    run_sync,
)
from effectpy.concurrent import Semaphore
from effectpy.structured import Spawned, branch, spawn
from effectpy.tasks import TaskTree, output, progress, render_live, render_plain, step, with_task

A = TypeVar("A")
E = TypeVar("E")


def say(text: str) -> Effect[None]:
    return Effect.sync(lambda: print(text))


# -- the API server: a resource -------------------------------------------------------

FLAKY_PATH = "/users/2"
"""The server answers the first request for it with 503: a retry follows."""
SLOW_PATH = "/users/3/posts"
"""The server stalls the first request for it: the attempt times out, a retry follows."""


def serve_api() -> Effect[ApiServer, Never, Scope]:
    """Start the API server in a thread; stop it (and wait for its threads) when the
    scope closes, whatever happened in it."""

    def start() -> ApiServer:
        stalled = {SLOW_PATH: 1.0, "/drafts/1": 0.15, "/drafts/2": 1.0, "/drafts/3": 0.3}
        server = ApiServer(flaky={FLAKY_PATH}, stalled=stalled)
        server.start()
        print(f"  API server listening on {server.url}")
        return server

    def stop(server: ApiServer, _: Exit[Any, Any]) -> Effect[None]:
        stopped = Effect.blocking(lambda _signal: server.stop())
        return stopped.and_then(
            say(f"  API server stopped, after {server.served.total()} requests")
        )

    return Effect.acquire_release(Effect.sync(start), stop)


# -- the HTTP client: blocking urllib in a thread, with timeout, retry, dedupe, a limit ----

SOCKET_TIMEOUT = 0.6
"""No socket call blocks longer than this, so an abandoned request frees its thread soon."""
ATTEMPT_TIMEOUT = 0.5
"""How long one attempt may take (`Effect.timeout`)."""
RETRY = Schedule.exponential_backoff(0.05, max_retries=3)
"""Retry after about 0.05 s, 0.1 s, 0.2 s (jittered), then give up."""
MAX_REQUESTS = 3
"""At most this many requests in flight at once."""


class FetchError(Exception):
    """A request failed: an HTTP error, a refused connection, a timeout."""


def http_get(url: str, signal: Signal) -> Any:
    """Plain blocking code, run in a worker thread by `Effect.blocking`.

    `signal` is set when the fiber waiting for this is interrupted (a timeout, a failed
    sibling). urllib cannot be woken up from another thread, so: do not start once it
    is set, and keep socket timeouts short, so that an abandoned call returns soon.
    """
    if signal.is_set():
        raise InterruptedError(f"not sent: {signal.reason}")
    try:
        with urllib.request.urlopen(url, timeout=SOCKET_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        error.close()  # an HTTP error holds its connection open until closed
        raise


class ApiClient:
    """GETs JSON from the API server."""

    def __init__(self, server: ApiServer, limit: Semaphore) -> None:
        self.server = server
        self.limit = limit
        self.asked: Counter[str] = Counter()
        """How many times each path was asked for."""
        self._request_ids = itertools.count(1)

    def get(self, path: str) -> Effect[Any, FetchError]:
        def request() -> Effect[Any, FetchError]:
            self.asked[path] += 1
            url = self.server.url + path
            send = Effect.blocking(lambda signal: http_get(url, signal), OSError).named("urlopen")
            attempt = self.limit.with_permit(send.timeout(ATTEMPT_TIMEOUT))
            fetch = (
                attempt.map_error(lambda error: FetchError(f"GET {path}: {error}"))
                .retry(RETRY.tap_input(retrying))
                .tap(lambda _: Effect.log(f"GET {path} -> 200"))
                .with_log_span("request")
            )
            # Concurrent GETs of one path share one run of `fetch` (in a fiber of its own).
            shared = Effect.dedupe(path, fetch.named(f"GET {path}"))
            return shared.annotate_logs(request_id=f"r{next(self._request_ids)}")

        return Effect.suspend(request)


def retrying(error: object) -> Effect[None]:
    """The retry schedule runs this before each new attempt."""
    return Effect.log_warning(f"{error}; retrying").and_then(output(f"retrying: {error}"))


class Api(Tag[ApiClient]):
    """The API client: a service, provided by a layer."""


def api_client() -> Effect[ApiClient, Never, Scope]:
    return serve_api().zip_with(Semaphore.make(MAX_REQUESTS), ApiClient)


# -- the database: a resource, and transactions --------------------------------------------

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL);
CREATE TABLE drafts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
"""


class Database:
    """A SQLite connection. Statements run in worker threads (`Effect.blocking`), one
    at a time; transactions are explicit (see `transaction`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def run(self, sql: str, rows: Sequence[tuple[object, ...]] | None = None) -> None:
        """Blocking: execute `sql` (once per row, if `rows` are given)."""
        with self._lock:
            if rows is None:
                self._conn.execute(sql)
            else:
                self._conn.executemany(sql, rows)

    def execute(self, sql: str) -> Effect[None, sqlite3.Error]:
        return Effect.blocking(lambda _signal: self.run(sql), sqlite3.Error)

    def insert(self, table: str, rows: Sequence[tuple[object, ...]]) -> Effect[None, sqlite3.Error]:
        sql = f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})"
        return Effect.blocking(lambda _signal: self.run(sql, rows), sqlite3.Error)

    def count(self, table: str) -> Effect[int, sqlite3.Error]:
        def count() -> int:
            with self._lock:
                row: tuple[int] = self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                return row[0]

        return Effect.blocking(lambda _signal: count(), sqlite3.Error)

    def close(self) -> None:
        self._conn.close()


def transaction(db: Database) -> Effect[None, sqlite3.Error, Scope]:
    """BEGIN now; when the scope closes, COMMIT if it succeeded, else ROLLBACK (on a
    failure, a defect or an interruption alike)."""

    def end(_: None, exit: Exit[Any, Any]) -> Effect[None]:
        # Effect.blocking without a `catch`: an error in COMMIT or ROLLBACK is a defect.
        if exit.is_success():
            commit = Effect.blocking(lambda _signal: db.run("COMMIT"))
            return commit.and_then(Effect.log("transaction committed"))
        rollback = Effect.blocking(lambda _signal: db.run("ROLLBACK"))
        return rollback.and_then(Effect.log_warning("transaction rolled back"))

    return Effect.acquire_release(db.execute("BEGIN"), end)


class Db(Tag[Database]):
    """The database: a service, provided by a layer."""


def open_database() -> Effect[Database, Never, Scope]:
    """A SQLite file in a temporary directory; at scope end, the connection is closed,
    then the directory removed (last acquired, first released)."""

    def make_directory() -> tempfile.TemporaryDirectory[str]:
        return tempfile.TemporaryDirectory(prefix="effectpy-showcase-")

    def remove(directory: tempfile.TemporaryDirectory[str], _: Exit[Any, Any]) -> Effect[None]:
        def cleanup() -> None:
            directory.cleanup()
            print(f"  temporary directory removed: {not Path(directory.name).exists()}")

        return Effect.sync(cleanup)

    def connect(directory: tempfile.TemporaryDirectory[str]) -> Database:
        db = Database(Path(directory.name) / "showcase.db")
        print(f"  SQLite database {db.path.name} in a temporary directory")
        return db

    def close(db: Database, _: Exit[Any, Any]) -> Effect[None]:
        return Effect.sync(db.close).and_then(say("  database closed"))

    directory = Effect.acquire_release(Effect.sync(make_directory), remove)
    return directory.flat_map(
        lambda d: Effect.acquire_release(Effect.sync(lambda: connect(d)), close)
    )


RESOURCES = Layer.scoped(Api, api_client()).merge(Layer.scoped(Db, open_database()))
"""Both services: built when the program starts, torn down (in reverse) when it ends."""


# -- part 1: the import ----------------------------------------------------------------------

IMPORTED_USERS = [1, 2, 3, 4, 1]
"""User 1 is listed twice: its two concurrent fetches share one request (dedupe)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str


@dataclass(frozen=True)
class Post:
    id: int
    user_id: int
    title: str


def fetch_users(api: ApiClient, user_ids: list[int]) -> Effect[list[User], FetchError]:
    def fetch(user_id: int) -> Effect[User, FetchError]:
        user = api.get(f"/users/{user_id}").map(lambda data: User(**data))
        return user.tap(lambda _: step())

    all_users = Effect.for_each(user_ids, fetch, concurrency="unbounded")
    return progress(0, len(user_ids)).and_then(all_users)


def fetch_posts(api: ApiClient, user_ids: list[int]) -> Effect[list[Post], FetchError]:
    def fetch(user_id: int) -> Effect[list[Post], FetchError]:
        posts = api.get(f"/users/{user_id}/posts").map(lambda data: [Post(**p) for p in data])
        return posts.tap(lambda _: step())

    all_posts = Effect.for_each(user_ids, fetch, concurrency="unbounded")
    flat = all_posts.map(lambda lists: [post for posts in lists for post in posts])
    return progress(0, len(user_ids)).and_then(flat)


@gen
def save(db: Database, users: list[User], posts: list[Post]) -> Do[None, sqlite3.Error, Scope]:
    user_rows = sorted({(user.id, user.name) for user in users})
    post_rows = [(post.id, post.user_id, post.title) for post in posts]
    yield from progress(0, len(user_rows) + len(post_rows))
    yield from transaction(db)
    yield from db.insert("users", user_rows)
    yield from step(len(user_rows))
    yield from db.insert("posts", post_rows)
    yield from step(len(post_rows))


@gen
def import_users_and_posts(api: ApiClient, db: Database) -> Do[None, FetchError | sqlite3.Error]:
    users, posts = yield from Effect.all(
        with_task("Fetch users", fetch_users(api, IMPORTED_USERS)),
        with_task("Fetch posts", fetch_posts(api, sorted(set(IMPORTED_USERS)))),
        concurrency="unbounded",
    )
    yield from with_task("Save to SQLite", Effect.scoped(save(db, users, posts)))


def watched(live: bool, work: Effect[A, E]) -> Effect[A, E]:
    """Run `work` in a task tree, with a view of the tree (forked) drawing it."""
    tree = TaskTree()
    view = render_live(tree) if live else render_plain(tree)

    def run(viewer: Fiber[None, Never]) -> Effect[A, E]:
        last_frame = tree.close().and_then(viewer.join())  # closing the tree ends the view
        return Effect.yield_now().and_then(tree.provide(work)).ensuring(last_frame)

    return view.fork().flat_map(run)


@gen
def report(api: ApiClient, db: Database) -> Do[None, sqlite3.Error]:
    served, asked = api.server.served, api.asked
    users = yield from db.count("users")
    posts = yield from db.count("posts")
    print(f"  saved {users} users and {posts} posts in one transaction")
    print(
        f"  retry: GET {FLAKY_PATH} reached the server {served[FLAKY_PATH]} times (503, then 200), "
        f"GET {SLOW_PATH} {served[SLOW_PATH]} times (timed out, then 200)"
    )
    print(
        f"  dedupe: user 1 was asked for {asked['/users/1']} times and fetched "
        f"{served['/users/1']} time: concurrent requests shared one"
    )
    print(
        f"  concurrency limit: at most {api.server.max_in_flight} requests in flight at once "
        f"(the limit is {MAX_REQUESTS})"
    )


# -- part 2: a failing branch ------------------------------------------------------------------


class InvalidDraft(Exception):
    """A draft from the API cannot be published."""


Publishing = FetchError | InvalidDraft | sqlite3.Error


def publish_draft(api: ApiClient, db: Database, draft_id: int) -> Effect[None, Publishing]:
    def check(data: Any) -> Effect[str, InvalidDraft]:
        if not data["title"]:
            return Effect.fail(InvalidDraft(f"draft {draft_id} has no title"))
        return Effect.succeed(data["title"])

    def write(title: str) -> Effect[None, sqlite3.Error]:
        written = say(f"  draft {draft_id} written (inside the transaction)")
        return db.insert("drafts", [(draft_id, title)]).and_then(written)

    def stopped(interruptions: list[Interrupt]) -> Effect[None]:
        reason = interruptions[0].reason
        return say(f"  draft {draft_id} interrupted ({reason}); its finalizer ran")

    published = api.get(f"/drafts/{draft_id}").flat_map(check).flat_map(write)
    return published.on_interrupt(stopped).named(f"draft {draft_id}")


@gen
def start_publishing(api: ApiClient, db: Database) -> Do[None, Never, Spawned[Publishing]]:
    """The branch's entry: spawn one process per draft, and show what runs."""
    for draft_id in DRAFTS:
        yield from spawn(publish_draft(api, db, draft_id))
    yield from Effect.sleep(0.05)  # while their requests are in flight:
    tree = yield from debug_tree()
    print("  the program right now, as debug_tree() draws it:")
    print("\n".join("    " + line for line in tree.splitlines()))


def publish_drafts(api: ApiClient, db: Database) -> Effect[None, Publishing]:
    """All drafts or none: one transaction around a branch of processes."""
    publishing = branch(start_publishing(api, db), name="publish drafts")
    in_transaction = transaction(db).and_then(publishing)
    # Effect.scoped(in_transaction), but with a scope named for debug_tree:
    return Scope.make(name="transaction").flat_map(lambda scope: scope.use(in_transaction))


# -- the program -------------------------------------------------------------------------------


@gen
def showcase(live: bool) -> Do[None, FetchError | sqlite3.Error, Api | Db]:
    api = yield from Api.get()
    db = yield from Db.get()

    print("\n1. Import users and posts: in parallel, with timeouts, retries, dedupe, a limit")
    importing = with_task("Import", import_users_and_posts(api, db))
    yield from watched(live, importing).with_log_span("import")
    yield from report(api, db)

    print("\n2. A failing branch: publish 3 drafts in one transaction; draft 3 is invalid")
    exit = yield from publish_drafts(api, db).exit()
    drafts = yield from db.count("drafts")
    print(f"  failure convergence: the branch failed, the rest was stopped, {drafts} drafts saved")
    if isinstance(exit, Failure):
        print("  the cause, as effectpy reports it (cause.pretty()):")
        print("\n".join("    " + line for line in exit.cause.pretty().splitlines()))

    print("\n3. Teardown: the layers release what they acquired, last acquired first")


def gave_up(error: FetchError | sqlite3.Error) -> Effect[int]:
    """The import's typed errors, handled: without this, mypy rejects `run_sync`."""
    return say(f"the import failed: {error!r}").as_(1)


# -- logging: stdlib logging, with effectpy's annotations and spans on each record ------------


class ContextFormatter(logging.Formatter):
    """Appends the annotations and spans effectpy puts on each record."""

    def format(self, record: logging.LogRecord) -> str:
        annotations: dict[str, object] = getattr(record, "annotations", {})
        spans: dict[str, float] = getattr(record, "spans", {})
        context = [f"{key}={value}" for key, value in annotations.items()]
        context += [f"{label}={elapsed:.0f}ms" for label, elapsed in spans.items()]
        line = super().format(record)
        return f"{line}  [{' '.join(context)}]" if context else line


class PrintHandler(logging.Handler):
    """Prints to the `sys.stdout` of the moment: while the live view runs, rich
    redirects it, so that log lines appear above the tree."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record))


def main() -> None:
    started = time.perf_counter()
    live = "--plain" not in sys.argv and ("--live" in sys.argv or sys.stdout.isatty())
    live = live and importlib.util.find_spec("rich") is not None

    handler = PrintHandler()
    handler.setFormatter(ContextFormatter("  log %(levelname)-7s %(message)s"))
    logger = logging.getLogger("effectpy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    print("effectpy showcase: a small import job on a local HTTP API and a SQLite file")
    program = showcase(live).provide(RESOURCES).as_(0).catch_all(gave_up)
    try:
        status = run_sync(program.named("showcase"))
    finally:
        logger.removeHandler(handler)
    print(f"\ndone in {time.perf_counter() - started:.1f}s")
    sys.exit(status)


if __name__ == "__main__":
    main()
