# convgrade: the grader service in one image.
#
# `docker compose up` builds it as it stands: the official python:3.11-slim-bookworm base,
# every Python package from the index, pinned with its sha256 by docker/requirements.lock
# (pip install --require-hashes; torch's CPU build from PyTorch's CPU index).
#
# Air-gapped (no registry, no index; what CI builds): one variable,
#   CONVGRADE_BASE_IMAGE=convgrade-base:bookworm      (in .env, or the environment)
# selects the Debian base that docker/build-base-image.sh makes by debootstrap; that image
# carries ENV CONVGRADE_PACKAGES=wheelhouse, so the same lock is installed from the wheels
# docker/build-wheelhouse.sh put in docker/wheelhouse/ (--no-index, the same hashes).
# See docker/README.md.
#
# Any base works that has CPython 3.11 with the venv module as $PYTHON.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG PYTHON=python3
ARG WHEELHOUSE=docker/wheelhouse
ARG LOCK=docker/requirements.lock
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# docker/wheelhouse/ always exists (it holds a README): empty unless build-wheelhouse.sh ran.
COPY ${WHEELHOUSE}/ /wheels/
COPY ${LOCK} /build/requirements.lock
# The dependencies go in first, in their own layer, so changing grader/ reinstalls only it.
# --require-hashes: every file installed has the sha256 the lock names, from either source.
RUN set -eux; \
    ${PYTHON} -m venv /opt/convgrade; \
    pip="/opt/convgrade/bin/pip --disable-pip-version-check --no-cache-dir"; \
    if [ "${CONVGRADE_PACKAGES:-index}" = wheelhouse ]; then \
        source="--no-index --find-links /wheels"; \
    else \
        source="--extra-index-url ${TORCH_INDEX}"; \
    fi; \
    $pip install $source --require-hashes --no-deps -r /build/requirements.lock; \
    rm -rf /wheels
COPY pyproject.toml setup.py /build/src/
COPY grader/ /build/src/grader/
# The server image serves no JupyterLab: built without the lab extension (no node here).
RUN set -eux; \
    CONVGRADE_SKIP_LABEXTENSION=1 /opt/convgrade/bin/pip --disable-pip-version-check --no-cache-dir install \
        --no-index --no-deps --no-build-isolation '/build/src[server]'; \
    /opt/convgrade/bin/pip check; \
    /opt/convgrade/bin/python -c 'import torch, flask, grader.doors.service; print("torch", torch.__version__)'

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="convgrade" \
      org.opencontainers.image.description="Sandboxed autograder for PyTorch notebooks: the grading service"
COPY --from=build /opt/convgrade /opt/convgrade
# The course: released notebooks readable by all; hidden suites and solutions
# readable by root only (the sandbox runs student code as uids
# 61000-61511), as is the data dir (database, submitted notebooks).
COPY nbgrader_config.py /srv/convgrade/
COPY exercises/ /srv/convgrade/exercises/
COPY solutions/ /srv/convgrade/solutions/
COPY autograde_tests/ /srv/convgrade/autograde_tests/
COPY docker/entrypoint.sh /usr/local/bin/convgrade-entrypoint
RUN set -eux; \
    chown -R root:root /srv/convgrade; \
    chmod -R go-w /srv/convgrade; \
    chmod -R a+rX /srv/convgrade/exercises; \
    chmod 0700 /srv/convgrade/solutions /srv/convgrade/autograde_tests; \
    mkdir -p /data; chmod 0700 /data; \
    chmod 0755 /usr/local/bin/convgrade-entrypoint

ENV PATH=/opt/convgrade/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CONVGRADE_COURSE_DIR=/srv/convgrade \
    CONVGRADE_DATA_DIR=/data \
    CONVGRADE_PORT=8000
WORKDIR /srv/convgrade
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/convgrade/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CONVGRADE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["convgrade-entrypoint"]
CMD ["convgrade", "serve", "--host", "0.0.0.0", "--port", "8000"]
