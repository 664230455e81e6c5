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
ENV PATH=/opt/moviebot/bin:$PATH \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    PYTHONUNBUFFERED=1 \
    MOVIEBOT_DATA_DIR=/data
RUN mkdir /data && chown moviebot:moviebot /data
VOLUME ["/data"]
USER moviebot
WORKDIR /home/moviebot
# Polling by default; set MOVIEBOT_WEBHOOK_URL (and expose MOVIEBOT_WEBHOOK_PORT) for webhooks.
EXPOSE 8443
ENTRYPOINT ["moviebot"]
CMD ["run"]
