#!/usr/bin/env bash
# Creates .venv (once) and installs both plugins, the simulator and the dev tools into it.
# Idempotent: when .venv already holds these sources installed with these project files, it
# installs nothing (a second run takes a second, not a minute of pip). pip's output goes to
# .venv/bootstrap.log (setuptools' build warnings would bury everything else) and is shown
# when an install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/bootstrap.stamp
projects="pyproject.toml tap-gruponos-wms/pyproject.toml target-gruponos-oracle/pyproject.toml"
# shellcheck disable=SC2086
wanted=$(cat $projects scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
# Installed from sources whose project files equal this checkout's (isolated mode: the
# installed packages, not the current directory's)?
installed_here() {
    .venv/bin/python -I - "$PWD" <<'EOF'
import importlib.util, pathlib, sys
here = pathlib.Path(sys.argv[1])
for module, project in [("tap_gruponos_wms", "tap-gruponos-wms"),
                        ("target_gruponos_oracle", "target-gruponos-oracle"),
                        ("orchestration", ".")]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        sys.exit(1)
    source = pathlib.Path(spec.origin).parent.parent / "pyproject.toml"
    if source.read_bytes() != (here / project / "pyproject.toml").read_bytes():
        sys.exit(1)
EOF
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] &&
    [ -x .venv/interop/target-jsonl/bin/target-jsonl ] && installed_here; then
    echo "bootstrap: .venv is up to date" >&2
    exit 0
fi
log=.venv/bootstrap.log
echo "bootstrap: installing Meltano and both plugins into .venv (log: $log)" >&2
if ! {
    .venv/bin/python -m pip install --upgrade pip &&
    .venv/bin/python -m pip install \
        -e ./tap-gruponos-wms \
        -e ./target-gruponos-oracle \
        -e ".[dev,dagster]" &&
    # target-jsonl, an independent Singer target for the interoperability test, in a venv of
    # its own: it needs singer-python 5, which pins jsonschema 2.6 and backoff 1.8, while
    # singer-sdk 0.54 needs jsonschema >= 4.16 and backoff >= 2.2.
    { [ -x .venv/interop/target-jsonl/bin/python ] ||
        .venv/bin/python -m venv .venv/interop/target-jsonl; } &&
    .venv/interop/target-jsonl/bin/python -m pip install "target-jsonl==0.1.4"
} >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "bootstrap: pip install failed; full output in $log" >&2
    exit 1
fi
echo "$wanted" >"$stamp"
