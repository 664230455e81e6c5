#!/usr/bin/env bash
# The whole test suite: starts a throwaway PostgreSQL (so the store is tested against a real server
# as well as SQLite), then runs pytest. Under CI (CI=true) a PostgreSQL that cannot start fails the run;
# on a developer machine without root the PostgreSQL tests are skipped instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1
export MOVIEBOT_MOVIELENS_DIR="${MOVIEBOT_MOVIELENS_DIR:-$(cd .. && pwd)/shared/data/movielens}"
if [ -z "${MOVIEBOT_TEST_POSTGRES_URL:-}" ]; then
  if pg_env=$(bash .ci/postgres.sh start); then
    eval "$pg_env"
  elif [ -n "${CI:-}" ]; then
    echo "PostgreSQL could not be started; CI needs it." >&2
    exit 1
  else
    echo "PostgreSQL could not be started: its tests will be skipped." >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
