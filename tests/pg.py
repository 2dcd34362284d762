"""A real PostgreSQL server for the tests, started from the system's binaries: ``initdb`` into a
temporary folder, a free port on loopback, torn down afterwards. ``initdb`` refuses to run as root
(tests and CI run as root here), so as root the server runs as an unprivileged system user
(``postgres`` when the package made one, else ``nobody``). Each test gets a database of its own."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.helpers import free_port

__all__ = ["PgServer", "bin_folder", "start"]

USER = "tango"                              # the server's superuser (trust on loopback: a test server only)


def bin_folder() -> Path:
    """The newest PostgreSQL's programs: Debian keeps them in /usr/lib/postgresql/N/bin, off the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise RuntimeError("no PostgreSQL server programs (initdb): install the 'postgresql' package (.ci/run does)")



@dataclass
class PgServer:
    folder: Path
    port: int
    bin: Path
    runner: pwd.struct_passwd | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kw: dict[str, object] = {}
        if self.runner is not None:
            kw = {"user": self.runner.pw_uid, "group": self.runner.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.folder), "LC_ALL": "C"}
        return subprocess.run([str(self.bin / args[0]), *args[1:]], check=True, capture_output=True, text=True,
                              env=env, cwd=self.folder, **kw)  # type: ignore[call-overload]

    def stop(self) -> None:
        try:
            self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _runner() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


def start(durable: bool = False) -> PgServer:
    """A server on a free port; ``durable``: with the defaults' fsync and synchronous commit (a
    benchmark), else without (tests: nothing here must outlive a machine's crash)."""
    runner = _runner()
    folder = Path(tempfile.mkdtemp(prefix="tango-pg-"))
    if runner is not None:
        os.chown(folder, runner.pw_uid, runner.pw_gid)
    server = PgServer(folder, free_port(), bin_folder(), runner)
    try:
        server.run("initdb", "-D", str(folder / "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C",
                   "--no-sync")
        options = (f"-p {server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} "
                   "-c max_connections=200")
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        server.run("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "server.log"), "-w",
                   "-t", "60", "start")
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        shutil.rmtree(folder, ignore_errors=True) if not log.exists() else None
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}") from exc
    return server
