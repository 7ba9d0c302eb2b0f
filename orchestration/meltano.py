"""One partition run: `meltano run` of a slice, in a Meltano directory of its own.

Meltano keeps each plugin's run files (configuration, catalog, state) in
``.meltano/run/<plugin>/``, one set per plugin: two runs of the same plugins at once overwrite
each other's catalog (meltano#8763). Each slice therefore runs with its own
``MELTANO_SYS_DIR_ROOT`` (``.meltano/partitions/<state id suffix>/``), whose plugin
directories are links to the project's installed ones, and the project's one system
database (``MELTANO_DATABASE_URI``), so `meltano state list` still shows every partition.

A failed run's cause is the first `[error]` line of a plugin; the run's audit rows
(`JOB_RUN_ID` = the run id given to Meltano) are then marked failed with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.slices import EXTRACTOR, LOADER, Slice

#: `timestamp [level    ] name message`, as Meltano prints a line without a terminal.
LOG_LINE = re.compile(r"\[(?P<level>[a-z]+) *\] (?P<name>\S+) +(?P<message>.*)$")
#: What stays per run in a partition's directory; everything else is the project's.
OWN = frozenset({"run", "partitions", "meltano.db", "meltano.db-wal", "meltano.db-shm"})
Log = Callable[[str, str], None]  # (level, line)
_VARIABLE = re.compile(r"\$(?:\{(?P<curly>\w+)(?::-(?P<default>[^}]*))?\}|(?P<plain>\w+))")


@dataclass(frozen=True)
class RunResult:
    """What one `meltano run` did."""

    run_id: str  # Meltano's run id, and JOB_RUN_ID of the run's audit rows
    state_id: str
    returncode: int
    seconds: float
    cause: str | None = None  # the failure's one line
    audit: list[dict] = field(default_factory=list)  # the run's SDC_LOAD_AUDIT rows

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class MeltanoProject:
    """The Meltano project partitions run in."""

    root: Path
    executable: str = field(default_factory=lambda: _beside_python("meltano"))

    @property
    def sys_dir(self) -> Path:
        """The project's `.meltano` (plugin installations, the system database)."""
        return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or self.root / ".meltano")

    @property
    def database_uri(self) -> str:
        return os.environ.get("MELTANO_DATABASE_URI") or f"sqlite:///{self.sys_dir}/meltano.db"

    def ensure_installed(self) -> None:
        """`meltano install` unless both plugins are installed: once for all partitions,
        under a lock. The runs themselves never install (they would race on a venv)."""
        with self._lock():
            venvs = [self.sys_dir / "extractors" / EXTRACTOR, self.sys_dir / "loaders" / LOADER]
            if not all((venv / "venv").is_dir() for venv in venvs):
                self._once(["install"], {})

    def ensure_database(self, variables: dict[str, str]) -> None:
        """A new SQLite system database is created (migrated) before the runs that use it:
        several first runs at once would race on its migration."""
        uri = self._environ(variables)["MELTANO_DATABASE_URI"]
        path = uri.removeprefix("sqlite:///")
        if path == uri or Path(path).exists():
            return
        with self._lock():
            if not Path(path).exists():
                self._once(["upgrade", "database"], variables)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.sys_dir.mkdir(parents=True, exist_ok=True)
        with open(self.sys_dir / ".orchestration.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _once(self, args: list[str], variables: dict[str, str]) -> str:
        """Run a meltano command to its end; its output, or one line saying why it failed."""
        done = subprocess.run(
            [self.executable, *args],
            cwd=self.root,
            env=self._environ(variables),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"meltano {' '.join(args)} failed: {tail[0]}")
        return done.stdout

    def run_dir(self, suffix: str) -> Path:
        """The slice's own Meltano directory: links to the project's installed plugins."""
        own = self.sys_dir / "partitions" / re.sub(r"[^A-Za-z0-9_.-]", "_", suffix or "default")
        own.mkdir(parents=True, exist_ok=True)
        for entry in self.sys_dir.iterdir():
            link = own / entry.name
            if entry.name not in OWN and not entry.name.startswith(".") and not link.exists():
                link.symlink_to(entry, target_is_directory=entry.is_dir())
        for leftover in (own / "run").glob("*/*.config.json"):  # of a killed run: secrets
            leftover.unlink()
        return own

    def run(
        self, part: Slice, job: str, meltano_environment: str, env: dict[str, str], log: Log
    ) -> RunResult:
        """`meltano run <job>` for ``part``; on failure its audit rows are marked failed."""
        run_id = str(uuid.uuid4())
        variables = {
            **env,
            **part.settings(),
            "MELTANO_ENVIRONMENT": meltano_environment,
            "MELTANO_RUN_STATE_ID_SUFFIX": part.state_suffix,
            "MELTANO_RUN_ID": run_id,
            "MELTANO_SYS_DIR_ROOT": str(self.run_dir(part.state_suffix)),
        }
        self.ensure_database(variables)
        started = time.monotonic()
        with ThreadPoolExecutor(1) as aside:  # the target's settings, read while it runs
            target_config = aside.submit(self.plugin_config, LOADER, variables)
            returncode, cause = self._stream(["run", "--no-install", job], variables, log)
            state_id = f"{meltano_environment}:{state_id_of(job, part.state_suffix)}"
            if returncode != 0:
                cause = cause or f"meltano run {job} exited {returncode}"
                self._mark_failed(run_id, cause, variables, log)
            audit = self.audit_rows(run_id, target_config, log)
        return RunResult(
            run_id=run_id,
            state_id=state_id,
            returncode=returncode,
            seconds=time.monotonic() - started,
            cause=cause,
            audit=audit,
        )

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

    def _stream(self, args: list[str], variables: dict[str, str], log: Log) -> tuple[int, str]:
        """Run meltano, passing each line to ``log``; its exit code and the failure's cause:
        the first error line of a plugin (Meltano's own lines only say that one failed)."""
        process = subprocess.Popen(
            [self.executable, *args],
            cwd=self.root,
            env=self._environ(variables),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            umask=0o077,  # the run files Meltano writes hold the passwords
        )
        cause = ""
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            match = LOG_LINE.search(line)
            level = match["level"] if match else "info"
            of_plugin = match is not None and match["name"] != "meltano"
            if of_plugin and level in ("error", "critical") and not cause:
                cause = f"{match['name']} {match['message']}"
            log(level, line)
        return process.wait(), cause

    def _mark_failed(self, run_id: str, cause: str, variables: dict[str, str], log: Log) -> None:
        """The target's `--mark-failed`: the run's audit rows say failed, and why."""
        args = ["invoke", "--no-install", LOADER, "--mark-failed", run_id, "--message", cause]
        code, _ = self._stream(args, variables, log)
        if code != 0:
            log("warning", f"audit rows of run {run_id} not marked failed (see above)")

    def audit_rows(self, run_id: str, target_config: Future[dict], log: Log) -> list[dict]:
        """The run's SDC_LOAD_AUDIT rows (by JOB_RUN_ID), read with the target's own settings."""
        from target_gruponos_oracle.audit import read_job_run  # the plugin, installed beside

        try:
            return read_job_run(target_config.result(), run_id)
        except Exception as exc:  # the audit is for people: a run's result stands without it
            log("warning", f"audit rows of run {run_id} not read: {type(exc).__name__}: {exc}")
            return []

    def plugin_config(self, plugin: str, variables: dict[str, str]) -> dict:
        """A plugin's settings as its runs get them (`meltano config --unsafe print`)."""
        # explicitly: Meltano 4 ignores a default environment for `config`
        environment = ["--environment", variables["MELTANO_ENVIRONMENT"]]
        return json.loads(
            self._once([*environment, "config", "--unsafe", "print", plugin], variables)
        )

    def facility_codes(self, meltano_environment: str, env: dict[str, str]) -> list[str]:
        """The codes of the WMS's facilities, read by the tap's own client (its settings,
        authentication, retries and one-line errors)."""
        from tap_gruponos_wms.tap import TapGruponosWms  # the plugin, installed beside

        variables = {**env, "MELTANO_ENVIRONMENT": meltano_environment}
        tap = TapGruponosWms(config=self.plugin_config(EXTRACTOR, variables))
        return next(iter(tap.streams.values())).codes("facility")


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
