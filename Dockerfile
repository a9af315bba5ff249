# reluserve container image: a build stage with the -dev packages, then a
# runtime stage with only the shared libraries, a non-root user and the
# bundled models. Both stages start from a Debian base built offline by
# scripts/docker-base-image (debootstrap + docker import), so no registry
# is needed:
#
#   scripts/docker-base-image            # once: reluserve/debian:bookworm
#   docker build -t reluserve .
#   docker run --rm -p 127.0.0.1:8080:8080 reluserve
#
# Serve your own repository by mounting it over /models (read-only is fine):
#   docker run --rm -p 127.0.0.1:8080:8080 -v "$PWD/models:/models:ro" reluserve
ARG BASE=reluserve/debian:bookworm

# ------------------------------------------------------------------ build
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config \
        libmicrohttpd-dev libjansson-dev libuv1-dev libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Sources only (see .dockerignore): a change to tests or docs does not
# invalidate the compile layer.
COPY Makefile ./
COPY scripts/embed-web scripts/
COPY lib lib/
COPY server server/
COPY cli cli/
COPY web web/
RUN make -j"$(nproc)" build/reluserve \
 && strip --strip-unneeded build/reluserve

# ---------------------------------------------------------------- runtime
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libjansson4 libuv1 libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin reluserve
COPY --from=build /src/build/reluserve /usr/local/bin/reluserve
COPY docker/healthcheck /usr/local/bin/reluserve-healthcheck
COPY models /models

# Every flag has a RELUSERVE_* twin; these are the container's defaults.
# The server listens on 127.0.0.1 unless told otherwise; a container must
# listen on every interface for its published port to reach it.
# OpenBLAS runs single-threaded inside each pool job (DESIGN.md: the libuv
# pool owns the cores), so its own thread pool is switched off.
ENV RELUSERVE_MODELS=/models \
    RELUSERVE_HOST=0.0.0.0 \
    RELUSERVE_PORT=8080 \
    RELUSERVE_LOG_FORMAT=json \
    OPENBLAS_NUM_THREADS=1
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/reluserve-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/reluserve"]
CMD ["serve"]
