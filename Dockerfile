# syntax=docker/dockerfile:1
# fabricscope: one image for every process (collector, poller, analyzers, api, simulators).
#   docker build -t fabricscope:local .
#   docker run --rm fabricscope:local --help
# The process is chosen by the command: `sflow listen`, `apic poll`, `analyze`, `serve`,
# `sim apic`, `sim sflow` (see docker-compose.yml). Health checks live in docker-compose.yml,
# one per service, because a single image-level check cannot fit a UDP collector and an HTTP API.

# Pinned by version (patch release + Debian release) so a rebuild gets the same interpreter; the
# Python packages are pinned by constraints.txt, the file scripts/setup.sh and the tests use.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# ---------------------------------------------------------------- builder: wheels for everything
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# A C compiler for the native fast paths (setup.py: the sFlow flow scanner and the APIC build's
# page scanner). Only this stage has it; the runtime stage gets the compiled wheel.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# Metadata first so the dependency layer is cached while only sources change.
# README.md* : pyproject names a readme; the glob keeps the build working before it exists.
COPY pyproject.toml setup.py constraints.txt LICENSE README.md* ./
COPY grafana/dashboards ./grafana/dashboards
COPY grafana/provisioning ./grafana/provisioning
COPY fabricscope ./fabricscope
COPY collector ./collector
COPY influx ./influx
COPY analyzers ./analyzers
COPY api ./api
COPY simulators ./simulators
# The project's wheel plus a wheel for every runtime dependency, so the runtime stage installs
# offline (--no-index) and carries no compiler, no pip cache and no sources. PIP_CONSTRAINT pins
# the build backend as well as every runtime dependency to constraints.txt.
RUN PIP_CONSTRAINT=/src/constraints.txt pip wheel --constraint constraints.txt --wheel-dir /wheels .

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG FABRICSCOPE_UID=10001
ARG FABRICSCOPE_GID=10001
LABEL org.opencontainers.image.title="fabricscope" \
      org.opencontainers.image.description="sFlow collector, APIC endpoint tracker and move analyzers on InfluxDB" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FABRICSCOPE_STATE_DIR=/var/lib/fabricscope \
    FABRICSCOPE_SPOOL_DIR=/var/lib/fabricscope/spool

# /run/fabricscope/influx-{rw,ro}: mount points of the token volumes (docker-compose.yml); a new
# named volume takes their owner and mode. -ro is world-readable: Grafana runs as another uid.
# /var/lib/fabricscope/health: the processes' health files (fabricscope/health.py).
RUN groupadd --system --gid "${FABRICSCOPE_GID}" fabricscope \
 && useradd --system --uid "${FABRICSCOPE_UID}" --gid "${FABRICSCOPE_GID}" \
        --home-dir /var/lib/fabricscope --no-create-home --shell /usr/sbin/nologin fabricscope \
 && mkdir -p /var/lib/fabricscope/spool /var/lib/fabricscope/health \
        /run/fabricscope/influx-rw /run/fabricscope/influx-ro \
 && chown -R "${FABRICSCOPE_UID}:${FABRICSCOPE_GID}" /var/lib/fabricscope /run/fabricscope \
 && chmod 0750 /var/lib/fabricscope /var/lib/fabricscope/spool /var/lib/fabricscope/health \
 && chmod 0700 /run/fabricscope/influx-rw \
 && chmod 0755 /run/fabricscope /run/fabricscope/influx-ro

# Bind-mount the wheels instead of COPYing them: they never become an image layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels fabricscope \
 && fabricscope --help >/dev/null \
 && python -c "import collector.sflow._flowscan, collector.apic._pagescan"

WORKDIR /var/lib/fabricscope
# Numeric uid:gid so runtimes that enforce runAsNonRoot can verify it without /etc/passwd.
USER ${FABRICSCOPE_UID}:${FABRICSCOPE_GID}

# 6343/udp: sFlow collector (`sflow listen`); 8080: API and web UI (`serve`).
EXPOSE 6343/udp 8080
ENTRYPOINT ["fabricscope"]
CMD ["--help"]
