# Redis and PostgreSQL for docker-compose.scale.yml, on the grader's own base image.
#
# The air-gapped base (docker/build-base-image.sh) has both already; on another Debian
# base (the default python:3.11-slim-bookworm) they come from Debian's archive.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
RUN set -eux; \
    if ! command -v redis-server || ! ls /usr/lib/postgresql/*/bin/postgres; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server postgresql; \
        rm -rf /var/lib/apt/lists/* /var/lib/postgresql/*/main /etc/postgresql/*/main; \
    fi
COPY docker/postgres-start.sh /usr/local/bin/convgrade-postgres
RUN chmod 0755 /usr/local/bin/convgrade-postgres
