"""The server's side of the checks: each upload's check is handed to a worker process ("spawn": a
fresh interpreter, so a 100,000-row check never holds the server's GIL), and its progress is read back
from the job's JSON file. A worker that dies or raises is said in that file too."""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from threading import Lock
from typing import Any

from pipeline.web.worker import CheckJob, ready, run_check, write_progress

__all__ = ["JOB_ID", "Checker"]

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
log = logging.getLogger("tango_batch.web")


class Checker:
    def __init__(self, jobs: Path, workers: int = 1, executor: Executor | None = None) -> None:
        self.jobs, self.workers = jobs, workers
        self.executor, self.own = executor, executor is None
        self.lock = Lock()

    def _pool(self) -> Executor:
        with self.lock:
            if self.executor is None:
                self.executor = ProcessPoolExecutor(max_workers=self.workers,
                                                    mp_context=multiprocessing.get_context("spawn"))
            return self.executor

    def warm(self) -> Future[None] | None:
        """Start the desk's own worker process now, its libraries imported (about a second), so that the
        first upload does not wait for it. An executor given from outside (tests) is left as it is."""
        return self._pool().submit(ready) if self.own else None

    def submit(self, job: CheckJob) -> None:
        write_progress(job.progress, state="queued", phase="waiting for a worker", done=0, total=0)
        meta = {"user": job.user, "sha256": job.sha256}
        (job.folder / "job.json").write_text(json.dumps(meta), encoding="utf-8")
        future = self._pool().submit(run_check, job)
        future.add_done_callback(lambda f: self._ended(f, job))

    def _ended(self, future: Future[Any], job: CheckJob) -> None:
        error = future.exception()
        if error is not None:
            log.error("the check of job %s failed: %s: %s", job.job, type(error).__name__, error)
            write_progress(job.progress, state="failed", sha256=job.sha256,
                           error="the check stopped on an internal error (the server's log has the details); "
                                 "upload the file again, and tell the engineer on call if it happens again")

    def job(self, job: str) -> dict[str, Any] | None:
        """A job's owner and file, and its progress; None for a job that does not exist."""
        if not JOB_ID.match(job):
            return None
        folder = self.jobs / job
        try:
            meta = json.loads((folder / "job.json").read_text(encoding="utf-8"))
            progress = json.loads((folder / "progress.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return {**meta, **progress}

    def close(self) -> None:
        if self.own and self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
