# execbrief in a container, for scheduled runs (docs/SCHEDULING.md).
#   docker build -t execbrief .
#   docker run --rm -v "$PWD/examples/portfolio:/workspace:ro" -v "$PWD/outputs:/outputs" \
#     execbrief run --workspace /workspace --no-send
# The workspace is mounted read-only at /workspace; runs are written to /outputs (set
# `outputs: /outputs` in the workspace's execbrief.yaml, or mount the outputs folder
# where its `outputs:` points).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY collectors ./collectors
COPY personas ./personas
COPY prompts ./prompts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# git: the code audit lists a repository's tracked files and history through it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels execbrief \
    && rm -rf /wheels
RUN useradd --create-home --uid 10001 --user-group execbrief \
    && mkdir -p /workspace /outputs \
    && chown execbrief:execbrief /outputs
ENV PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
USER execbrief
WORKDIR /workspace
VOLUME ["/workspace", "/outputs"]
ENTRYPOINT ["execbrief"]
CMD ["--help"]
