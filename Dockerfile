# syntax=docker/dockerfile:1
# Multi-stage: wheels are built in a full image, the runtime is slim and runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY recsys ./recsys
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
# implicit's compiled ALS links against OpenMP (libgomp.so.1).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 moviebot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV OPENBLAS_NUM_THREADS=1 \
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
