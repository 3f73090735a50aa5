# convgrade: the grader service in one image.
#
# Built without network: the base image comes from docker/build-base-image.sh (Debian
# bookworm + python3.11 by debootstrap) or from a registry, and every Python package
# from the wheelhouse that docker/build-wheelhouse.sh fills. See docker/README.md.
#
#   docker/build-base-image.sh && docker/build-wheelhouse.sh && docker build -t convgrade .
#   docker build --build-arg BASE_IMAGE=python:3.11-slim-bookworm -t convgrade .
#
# Any base works that has CPython 3.11 with the venv module as $PYTHON.
ARG BASE_IMAGE=convgrade-base:bookworm

FROM ${BASE_IMAGE} AS build
ARG PYTHON=python3
ARG WHEELHOUSE=docker/wheelhouse
ARG LOCK=docker/requirements.lock
COPY ${WHEELHOUSE}/ /wheels/
COPY ${LOCK} /build/requirements.lock
# --no-index: the wheelhouse is the only source; the lock pins every version. The
# dependencies go in first, in their own layer, so changing grader/ reinstalls only it.
RUN set -eux; \
    ${PYTHON} -m venv /opt/convgrade; \
    pip="/opt/convgrade/bin/pip --disable-pip-version-check --no-cache-dir"; \
    $pip install --no-index --find-links /wheels -c /build/requirements.lock --upgrade pip; \
    grep -v -e '^#' -e '^pip==' /build/requirements.lock > /build/deps.txt; \
    $pip install --no-index --find-links /wheels -r /build/deps.txt
COPY pyproject.toml /build/src/
COPY grader/ /build/src/grader/
RUN set -eux; \
    /opt/convgrade/bin/pip --disable-pip-version-check --no-cache-dir install \
        --no-index --find-links /wheels -c /build/requirements.lock /build/src; \
    /opt/convgrade/bin/pip check; \
    /opt/convgrade/bin/python -c 'import torch, flask, grader.service; print("torch", torch.__version__)'

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
