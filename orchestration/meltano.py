"""One partition run: `meltano run` of a slice, safe beside every other run of the same tables,
on this machine or another, and when it is killed or terminated.

- **Its own Meltano directory**, scratch: ``<sys dir>/runs/<run id>/``, links to the installed
  plugins; its run files (the plugins' configuration, passwords included; the catalog) go with
  it when the run ends. Meltano keeps one set of them per plugin (meltano#8763), so two runs
  sharing a directory overwrite each other's. A run's directory holds a lock while the run
  lives; a run that finds another's lock free removes what its dead owner left.
- **Locks in the database every worker shares** (`locks`), taken in this order: the run's
  environment, shared by every run but that environment's full sync, which holds it alone (an
  incremental run then skips its tick: the full sync reads its records; the full sync waits for
  the runs in flight); then the run's state id, alone (a second run of the partition waits).
  Holding the state id's lock proves that no other run of the partition is alive, so Meltano's
  job rows of that state id still marked running are a killed run's: they are ended once their
  heartbeat has stopped, and the audit rows of that run marked failed, before the retry runs.
- **The process tree**: meltano runs in this process group (a lost node or an OOM kill takes
  the whole group) and is told to stop (SIGTERM) if this process dies alone (Linux
  ``PR_SET_PDEATHSIG``). When the run is interrupted (Dagster terminating it), meltano is
  stopped (it ends its job row and stops its plugins), what is left of the tree is killed after
  a grace period, and the run's audit rows are marked failed.
- **Its log**: meltano's JSON lines, each passed on at its level. A failure's cause is the first
  error line of a plugin, else Meltano's own (``Another ... pipeline is already running``);
  the run's audit rows come from the target's end-of-run lines (their ``audit_*`` fields).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from orchestration.locks import LockTimeout, held
from orchestration.slices import EXTRACTOR, LOADER, Slice

Log = Callable[[str, str], None]  # (level, line)
_VARIABLE = re.compile(r"\$(?:\{(?P<curly>\w+)(?::-(?P<default>[^}]*))?\}|(?P<plain>\w+))")
#: What a run's directory links to from the project's Meltano directory.
SHARED = ("extractors", "loaders", "utilities", "mappers")
#: Seconds without a heartbeat after which a job row of a state id whose lock was free is a
#: dead run's (Meltano writes one every second).
STALE_SECONDS = 10.0
#: Seconds meltano gets to stop its plugins once told to, before the tree is killed.
GRACE_SECONDS = 30.0
#: The lines meltano writes, one JSON object each (`--log-format json`).
LOG_FORMAT = ["--log-format", "json"]
_PR_SET_PDEATHSIG = 1
TERMINATED = 143  # the exit code of a process ended by SIGTERM (128 + 15)


@dataclass(frozen=True)
class RunResult:
    """What one `meltano run` did."""

    run_id: str  # Meltano's run id, and JOB_RUN_ID of the run's audit rows
    state_id: str
    returncode: int
    seconds: float
    cause: str | None = None  # the failure's one line
    audit: list[dict] = field(default_factory=list)  # the run's audit rows, as the target logged
    skipped: str | None = None  # why the run did not run (its environment's full sync runs)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def terminated(self) -> bool:
        """Told to stop (SIGTERM): not to be retried."""
        return self.returncode == TERMINATED


@dataclass
class MeltanoProject:
    """The Meltano project partitions run in."""

    root: Path
    executable: str = field(default_factory=lambda: _beside_python("meltano"))

    @property
    def sys_dir(self) -> Path:
        """The project's `.meltano` (plugin installations), on this machine."""
        return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or self.root / ".meltano")

    @property
    def database_uri(self) -> str:
        return os.environ.get("MELTANO_DATABASE_URI") or f"sqlite:///{self.sys_dir}/meltano.db"

    # -- once per worker --------------------------------------------------------------------

    def ensure_installed(self) -> None:
        """`meltano install` unless both plugins are installed, once on this machine: the
        runs themselves never install (they would race on a venv)."""
        name = f"install:{socket.gethostname()}:{self.sys_dir.resolve()}"
        with held(self.database_uri, name, wait=None):
            venvs = [self.sys_dir / "extractors" / EXTRACTOR, self.sys_dir / "loaders" / LOADER]
            if not all((venv / "venv").is_dir() for venv in venvs):
                self._once(["install"], {})

    def ensure_database(self, variables: dict[str, str]) -> None:
        """Meltano's system database migrated before runs use it, by one worker at a time:
        several first runs at once race on the migration (and all but one fail)."""
        uri = self._environ(variables)["MELTANO_DATABASE_URI"]
        with held(uri, "migrate", wait=None):
            if not _migrated(uri):
                self._once(["upgrade", "database"], variables)

    def _once(self, args: list[str], variables: dict[str, str]) -> str:
        """Run a meltano command to its end; its output, or one line saying why it failed
        (Meltano's last error line: the exception, after the attempts it made)."""
        done = subprocess.run(
            [self.executable, *LOG_FORMAT, *args],
            cwd=self.root,
            env=self._environ(variables),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            errors = [
                line
                for level, line, _, _ in map(_parse, done.stderr.splitlines())
                if level in ("error", "critical")
            ]
            why = _first_line((errors[-1:] or [f"exit {done.returncode}"])[0])
            raise RuntimeError(f"meltano {' '.join(args)} failed: {why}")
        return done.stdout

    # -- a run --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def run_dir(self, run_id: str) -> Iterator[Path]:
        """A Meltano directory of the run's own, removed when the run ends (its files hold
        passwords); those of dead runs on this machine go first."""
        runs = self.sys_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        _remove_dead(runs)
        own = runs / run_id
        own.mkdir()
        with open(own / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for name in SHARED:
                if (self.sys_dir / name).is_dir():
                    (own / name).symlink_to(self.sys_dir / name, target_is_directory=True)
            try:
                yield own
            finally:
                shutil.rmtree(own, ignore_errors=True)

    def run(
        self,
        part: Slice,
        job: str,
        meltano_environment: str,
        env: dict[str, str],
        log: Log,
        *,
        exclusive: bool = False,
        wait: float = 3600,
    ) -> RunResult:
        """`meltano run <job>` for ``part``; on failure its audit rows are marked failed.

        ``exclusive``: the run holds its environment alone (the environment's full sync);
        else it shares it, and skips when that full sync holds it.
        """
        run_id = str(uuid.uuid4())
        state_id = f"{meltano_environment}:{state_id_of(job, part.state_suffix)}"
        variables = {
            **env,
            **part.settings(),
            "MELTANO_ENVIRONMENT": meltano_environment,
            "MELTANO_RUN_STATE_ID_SUFFIX": part.state_suffix,
            "MELTANO_RUN_ID": run_id,
        }
        self.ensure_database(variables)
        uri = self._environ(variables)["MELTANO_DATABASE_URI"]
        started = time.monotonic()
        environment = f"the full sync of environment {part.source or meltano_environment}"
        try:
            with held(uri, environment, shared=not exclusive, wait=wait if exclusive else 0) as got:
                if not got:
                    reason = f"skipped: {environment} is running (it reads these records)"
                    log("info", reason)
                    seconds = time.monotonic() - started
                    return RunResult(run_id, state_id, 0, seconds, skipped=reason)
                with held(uri, f"the run of {state_id}", wait=wait), self.run_dir(run_id) as own:
                    variables["MELTANO_SYS_DIR_ROOT"] = str(own)
                    log("info", f"Meltano directory {own} of run {run_id} ({state_id})")
                    self._end_dead_jobs(state_id, uri, variables, log)
                    returncode, cause, audit = self._run(job, run_id, variables, log)
        except LockTimeout as exc:
            cause = f"{exc} (setting lock_wait_seconds)"
            return RunResult(run_id, state_id, 1, time.monotonic() - started, cause)
        return RunResult(run_id, state_id, returncode, time.monotonic() - started, cause, audit)

    def _run(
        self, job: str, run_id: str, variables: dict[str, str], log: Log
    ) -> tuple[int, str | None, list[dict]]:
        """The run itself; its exit code, the failure's cause and the audit rows."""
        audit: list[dict] = []
        try:
            returncode, cause = self._stream(
                [*LOG_FORMAT, "run", "--no-install", job], variables, log, audit
            )
        except Interrupted as stop:  # meltano and its plugins are stopped by now
            cause = f"terminated: the run was told to stop ({stop})"
            self._mark_failed(run_id, cause, variables, log)
            return TERMINATED, cause, []
        if returncode != 0:
            cause = cause or f"meltano run {job} exited {returncode}"
            self._mark_failed(run_id, cause, variables, log)
            audit = [{**row, "STATUS": "failed", "MESSAGE": cause} for row in audit]
        return returncode, cause if returncode else None, audit

    def _environ(self, variables: dict[str, str]) -> dict[str, str]:
        """The process environment plus ``variables``, in which ``${NAME}`` is replaced as
        Meltano does in meltano.yml (e.g. ``${MELTANO_PROJECT_ROOT}``; see `expand`)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("MELTANO_RUN_")}
        base |= {
            "MELTANO_DATABASE_URI": self.database_uri,
            "MELTANO_PROJECT_ROOT": str(self.root),
            "NO_COLOR": "1",
        }
        return base | {k: expand(v, base) for k, v in variables.items()}

    def _stream(
        self, args: list[str], variables: dict[str, str], log: Log, audit: list[dict]
    ) -> tuple[int, str]:
        """Run meltano, passing each line to ``log`` and each audit row to ``audit``; its exit
        code and the failure's cause. Told to stop (or interrupted otherwise), it stops the
        process tree, then raises."""
        with _stop_signals() as told:
            process = subprocess.Popen(
                [self.executable, *args],
                cwd=self.root,
                env=self._environ(variables),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                umask=0o077,  # the run files Meltano writes hold the passwords
                preexec_fn=_stop_with_parent,
            )
            try:
                return self._follow(process, log, audit, told)
            except BaseException:
                _stop_tree(process, log)
                raise

    def _follow(
        self, process: subprocess.Popen, log: Log, audit: list[dict], told: threading.Event
    ) -> tuple[int, str]:
        """Meltano's lines to their end: its exit code and the failure's cause."""
        causes: dict[str, str] = {}
        assert process.stdout is not None
        for raw in process.stdout:
            if told.is_set():  # the signal's exception was lost on its way (caught, not ours)
                raise Interrupted("SIGTERM")
            level, line, source, fields = _parse(raw)
            if level in ("error", "critical") and source != "meltano":
                causes.setdefault("plugin", _first_line(line))  # what went wrong
            elif level in ("error", "critical"):
                causes["meltano"] = _first_line(line)  # the last: after the context
            if "audit_stream_name" in fields:
                audit.append(_audit_row(fields))
            log(level, line)
        returncode = process.wait()
        if told.is_set():
            raise Interrupted("SIGTERM")
        return returncode, causes.get("plugin") or causes.get("meltano") or ""

    def _mark_failed(self, run_id: str, cause: str, variables: dict[str, str], log: Log) -> None:
        """The target's `--mark-failed`: the run's audit rows say failed, and why."""
        args = ["invoke", "--no-install", LOADER, "--mark-failed", run_id, "--message", cause]
        try:
            code, _ = self._stream(args, variables, log, [])
        except Exception as exc:  # the audit is for people: the run's result stands
            log("warning", f"audit rows of run {run_id} not marked failed: {exc}")
            return
        if code != 0:
            log("warning", f"audit rows of run {run_id} not marked failed (see above)")

    def _end_dead_jobs(self, state_id: str, uri: str, variables: dict[str, str], log: Log) -> None:
        """End Meltano's job rows of ``state_id`` still marked running, which, the state id's
        lock being ours, belong to runs that died (a kill, a lost node), once their heartbeat
        has stopped; mark their audit rows failed. Meltano itself would refuse the state id
        for five more minutes."""
        for job_run_id in _dead_jobs(uri, state_id, log):
            cause = "killed: its run ended without ending its job (process killed or node lost)"
            log("warning", f"run {job_run_id} of {state_id} died while running: ended as failed")
            self._mark_failed(job_run_id, cause, variables, log)

    def facility_codes(self, meltano_environment: str, env: dict[str, str]) -> list[str]:
        """The codes of the WMS's facilities, read by the tap's own client (its settings,
        authentication and one-line errors), failing fast: a WMS that is down must not hold
        the definitions' loading for the retries of a run."""
        from tap_gruponos_wms.tap import TapGruponosWms  # the plugin, installed beside

        variables = {**env, "MELTANO_ENVIRONMENT": meltano_environment}
        self.ensure_database(variables)  # `meltano config` reads it (made here if new)
        config = self.plugin_config(EXTRACTOR, variables)
        config |= {"max_retries": 0, "request_timeout": 10}
        return TapGruponosWms(config=config, setup_mapper=False).api_client.codes("facility")

    def plugin_config(self, plugin: str, variables: dict[str, str]) -> dict:
        """A plugin's settings as its runs get them (`meltano config --unsafe print`)."""
        # explicitly: Meltano 4 ignores a default environment for `config`
        environment = ["--environment", variables["MELTANO_ENVIRONMENT"]]
        return json.loads(
            self._once([*environment, "config", "--unsafe", "print", plugin], variables)
        )


def _migrated(uri: str) -> bool:
    """Whether Meltano's system database at ``uri`` is at the revision this Meltano needs."""
    from meltano.migrations import LOCK_PATH  # the revision this Meltano installs

    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return False
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return current == LOCK_PATH.read_text().strip()


def _dead_jobs(uri: str, state_id: str, log: Log) -> list[str]:
    """End the running job rows of ``state_id`` once their heartbeat is STALE_SECONDS old
    (waiting for that at most twice as long: a live meltano beats every second); their run
    ids."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    running = sa.text("SELECT COUNT(*) FROM runs WHERE job_name = :id AND state = 'RUNNING'")
    with engine.connect() as conn:  # the usual case, without loading Meltano's models
        if not conn.execute(running, {"id": state_id}).scalar():
            engine.dispose()
            return []
    from meltano.core.job import JobFinder  # Meltano's own model of its runs table

    ended: list[str] = []
    deadline = time.monotonic() + 2 * STALE_SECONDS
    try:
        with sa.orm.Session(engine) as session:
            while running := JobFinder(state_id).running(session).all():
                now = datetime.now(timezone.utc).replace(tzinfo=None)  # Meltano keeps UTC
                stale = [j for j in running if _age(j, now) >= STALE_SECONDS]
                for job in stale:
                    job.fail(error="The process died without ending the job (killed).")
                    ended.append(str(job.run_id))
                session.commit()
                if len(stale) == len(running):
                    break
                if time.monotonic() >= deadline:
                    log("warning", f"a meltano run of {state_id} outside this orchestration runs")
                    break
                time.sleep(1)
    finally:
        engine.dispose()
    return ended


def _age(job: t.Any, now: datetime) -> float:
    beat = job.last_heartbeat_at or job.started_at
    return (now - beat.replace(tzinfo=None)).total_seconds() if beat else float("inf")


def _remove_dead(runs: Path) -> None:
    """Remove the directories of runs whose lock no live process holds."""
    for folder in runs.iterdir():
        try:
            with open(folder / ".lock") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # alive
        except OSError:
            pass  # no lock file: a directory half made, or not a run's
        shutil.rmtree(folder, ignore_errors=True)


class Interrupted(BaseException):
    """This process was told to stop (SIGTERM, SIGINT) while meltano ran: like
    KeyboardInterrupt, not an error of the run's."""


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """While meltano runs, SIGTERM and SIGINT raise `Interrupted` in the main thread (Dagster
    terminates a run with SIGTERM), and are remembered: the run is stopped even if something
    on the way caught the exception. Other threads cannot handle signals: nothing changes."""
    told = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield told
        return

    def stop(signo: int, _frame: t.Any) -> None:
        told.set()
        raise Interrupted(signal.Signals(signo).name)

    previous = {signo: signal.signal(signo, stop) for signo in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield told
    finally:
        for signo, handler in previous.items():
            signal.signal(signo, handler)


def _stop_with_parent() -> None:
    """In the child: SIGTERM when the parent dies (Linux), so a run worker killed alone
    does not leave its meltano reading the WMS."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_tree(process: subprocess.Popen, log: Log) -> None:
    """Stop meltano (it ends its job and its plugins), then kill what is left of its tree."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if process.poll() is None:
        log("warning", "stopping meltano and its plugins (the run was interrupted)")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _parse(raw: str) -> tuple[str, str, str, dict]:
    """(level, line for people, ``meltano`` or the plugin's name, the line's fields)."""
    try:
        fields = json.loads(raw)
    except ValueError:
        return "info", raw.rstrip("\n"), "meltano", {}
    if not isinstance(fields, dict):
        return "info", raw.rstrip("\n"), "meltano", {}
    level = str(fields.get("level", "info"))
    source = str(fields.get("string_id") or fields.get("name") or "meltano")
    text = str(fields.get("event", "")).rstrip()
    return level, text if source == "meltano" else f"{source} {text}", source, fields


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0].strip()


def _audit_row(fields: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The target's audit_* log fields as the SDC_LOAD_AUDIT columns they stand for."""
    return {
        k.removeprefix("audit_").upper(): v for k, v in fields.items() if k.startswith("audit_")
    }


def expand(value: str, variables: Mapping[str, str]) -> str:
    """``value`` with ``$NAME``, ``${NAME}`` and ``${NAME:-default}`` replaced as a shell does
    (the default when NAME is unset or empty); an unknown name without a default stays."""

    def replace(match: re.Match) -> str:
        name, default = match["curly"] or match["plain"], match["default"]
        if variables.get(name) or (name in variables and default is None):
            return variables[name]
        return match[0] if default is None else default

    return _VARIABLE.sub(replace, value)


def state_id_of(job: str, suffix: str) -> str:
    """The state id Meltano gives the job's extract-load pair (after `<environment>:`)."""
    extractor = f"{EXTRACTOR}--full" if job == "full-sync" else EXTRACTOR
    return f"{extractor}-to-{LOADER}" + (f":{suffix}" if suffix else "")


def _beside_python(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name) or name
