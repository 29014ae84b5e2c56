#!/usr/bin/env bash
# Builds a Kiln project's installers on a fresh Ubuntu (22.04 or newer) or Debian (12 or newer) machine, such as a
# CI runner: Kiln in a virtual environment of its own, the Debian packages its installer kinds need, then
# `kiln build`. docs/ci.md explains it; Kiln's own CI runs it on examples/hello.
#
# Usage: build-installers.sh PROJECT_FILE [kiln build options, e.g. --kind appimage --kind msi]
#
# Environment:
#   KILN_REQUIREMENT   what pip installs as Kiln (required): a release on your package index ("kiln==0.1.0"), a Git
#                      URL ("kiln @ git+https://git.example.org/tools/kiln.git@v0.1.0"), a wheel or a folder
#   KILN_PYTHON        the Python that runs Kiln (default: python3). For Linux, Kiln bundles this interpreter when
#                      the project's [python] version is its own: a shared CPython build, e.g. actions/setup-python's
#   KILN_VENV          where Kiln's virtual environment goes (default: $RUNNER_TEMP/kiln-venv, else $TMPDIR/kiln-venv)
#   SOURCE_DATE_EPOCH  the date written into the installers (default: the time of the project's last git commit)
#   KILN_CACHE_DIR     Kiln's cache of runtimes and wheels (default: ~/.cache/kiln): keep it between CI runs
# The exit code is kiln build's: 0 when every installer was built, 1 when one failed (its message says why).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 PROJECT_FILE [kiln build options]   (PROJECT_FILE: the project's kiln.toml)" >&2
  exit 2
fi
project=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
if [ -z "${KILN_REQUIREMENT:-}" ]; then
  echo "error: set KILN_REQUIREMENT to the Kiln to install, e.g. \"kiln==0.1.0\" or a Git URL (see docs/ci.md)" >&2
  exit 2
fi
python=${KILN_PYTHON:-python3}
venv=${KILN_VENV:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kiln-venv}
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "==> Kiln ($KILN_REQUIREMENT) into $venv"
if ! "$python" -m venv "$venv"; then
  echo "error: $python cannot make a virtual environment: install python3-venv, or use actions/setup-python" >&2
  exit 1
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$KILN_REQUIREMENT"

echo "==> the Debian packages Kiln's installer kinds need"
if ! command -v dpkg-query > /dev/null; then
  echo "error: this script installs Debian packages: run it on Debian or Ubuntu (docs/ci.md)" >&2
  exit 1
fi
mapfile -t packages < <("$venv/bin/python" -m kiln.kinds.tools --debian-packages --builds)
missing=()
for package in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$package" 2> /dev/null)" != "install ok installed" ]; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
else
  echo "all installed: ${packages[*]}"
fi

# Reproducible installers: the dates inside them (a DMG's files, the AppImage's AppStream release) are the time of
# the project's last commit rather than a fixed date.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && epoch=$(git -C "$(dirname "$project")" log -1 --format=%ct 2> /dev/null); then
  export SOURCE_DATE_EPOCH=$epoch
fi

echo "==> kiln build $project $*"
exec "$venv/bin/kiln" build "$project" "$@"
