#!/usr/bin/env bash
# Regenerates requirements.lock: every runtime dependency of pyproject.toml pinned with its hashes,
# for the Docker image (pip install --require-hashes). Run it after changing [project] dependencies;
# tests/test_packaging.py fails while the lock and pyproject.toml disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/pip" install --quiet pip-tools
"$tool/bin/pip-compile" --quiet --generate-hashes --strip-extras --no-emit-index-url \
  --no-emit-find-links --output-file=requirements.lock pyproject.toml
