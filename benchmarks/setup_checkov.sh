#!/usr/bin/env bash
# Create benchmarks/.venv-checkov with the checkov version the benchmark compares against.
# It is a separate venv so checkov's many pinned dependencies never touch the project's.
# Usage: bash benchmarks/setup_checkov.sh   (takes a few minutes; needs PyPI)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-checkov"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if [[ -x "$venv/bin/checkov" ]]; then
  echo "checkov already installed: $("$venv/bin/checkov" --version)"
  exit 0
fi

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "checkov==3.3.30"
echo "installed checkov $("$venv/bin/checkov" --version) in $venv"
