# syntax=docker/dockerfile:1
# Multi-stage: dependencies come from requirements.lock (pinned versions, checked hashes) into a
# virtual environment; the runtime stage is slim, has no pip, and runs as a non-root user.
# The base image is pinned to a patch release; override with --build-arg PYTHON_IMAGE=... to move.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m venv /opt/moviebot
COPY requirements.lock ./
RUN /opt/moviebot/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY recsys ./recsys
RUN /opt/moviebot/bin/pip install --no-cache-dir --no-deps . \
    && /opt/moviebot/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
# implicit's compiled ALS links against OpenMP (libgomp.so.1); pip is removed from the runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && python -m pip uninstall --yes pip setuptools wheel \
    && useradd --create-home --uid 10001 moviebot
COPY --from=build /opt/moviebot /opt/moviebot
# In a container the webhook server must listen on all of the container's interfaces (its own
# network namespace; publish MOVIEBOT_WEBHOOK_PORT to the TLS proxy); outside one it defaults to
# 127.0.0.1.
ENV PATH=/opt/moviebot/bin:$PATH \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    PYTHONUNBUFFERED=1 \
    MOVIEBOT_DATA_DIR=/data \
    MOVIEBOT_WEBHOOK_LISTEN=0.0.0.0
RUN mkdir /data && chown moviebot:moviebot /data
VOLUME ["/data"]
USER moviebot
WORKDIR /home/moviebot
# Polling by default; set MOVIEBOT_WEBHOOK_URL (and expose MOVIEBOT_WEBHOOK_PORT) for webhooks.
EXPOSE 8443
# Webhook mode: GET /healthz on the webhook port (200 when the database answers and the model is
# loaded, 503 otherwise). Polling mode has no HTTP endpoint: the check passes while the process
# runs (Docker already sees a dead process). No curl in the slim image: Python's urllib.
# The start period covers training the model on a first start.
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; os.environ.get('MOVIEBOT_WEBHOOK_URL') or sys.exit(0); urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MOVIEBOT_WEBHOOK_PORT', '8443'), timeout=4); sys.exit(0)"]
ENTRYPOINT ["moviebot"]
CMD ["run"]
