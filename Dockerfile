# reluserve container image. Two stages from one Debian base:
#
# - build: compiles with the -dev packages, then proves the build on this
#   clean Debian, the machine a user has (no OPENBLAS_CORETYPE or any other
#   variable of ours): every cmocka unit test passes, and `make models`
#   reproduces the committed models byte for byte. A failure fails the build.
# - runtime: the binary, the shared libraries it loads and nothing else of the
#   toolchain; a non-root user; the bundled models.
#
# The default base is built offline by scripts/docker-base-image (debootstrap
# + docker import, no registry); any Debian 12 image works:
#
#   scripts/docker-base-image            # once: reluserve/debian:bookworm
#   docker build -t reluserve .          # or --build-arg BASE=debian:bookworm-slim
#   docker run --rm -p 127.0.0.1:8080:8080 -e RELUSERVE_ALLOWED_HOSTS=localhost reluserve
#
# Serve your own repository by mounting it over /models (read-only is fine):
#   docker run --rm -p 127.0.0.1:8080:8080 -e RELUSERVE_ALLOWED_HOSTS=localhost \
#       -v "$PWD/models:/models:ro" reluserve
#
# RELUSERVE_ALLOWED_HOSTS=localhost: published on this machine's loopback, the
# container is reachable by a web page that rebinds its DNS name to 127.0.0.1.
# The image leaves it unset: on 0.0.0.0 the server then answers every Host, as
# clusters need (docs/api.md, "Host names and DNS rebinding").
ARG BASE=reluserve/debian:bookworm

# ------------------------------------------------------------------ build
FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        gcc libc6-dev make pkg-config \
        libmicrohttpd-dev libjansson-dev libuv1-dev libopenblas-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The context is an allow-list (.dockerignore): sources, unit tests, data,
# models. Moving files between source folders needs no change here.
COPY . .
RUN make -j"$(nproc)" all unit \
 && for t in $(find build/tests -type f -name 'test_*' -perm -u+x | sort); do \
        "$t" >/tmp/unit.log 2>&1 || { cat /tmp/unit.log; echo "FAILED: $t"; exit 1; }; \
    done \
 && echo "unit tests passed on a clean Debian" \
 && make models MODELS_OUT=/tmp/models \
 && (cd /tmp/models && find . -name model.json) | while read -r f; do \
        cmp "models/$f" "/tmp/models/$f" || exit 1; \
    done \
 && echo "make models reproduces the committed models byte for byte"
# The binary it ships: the same sources without OpenBLAS (make BLAS=0). The
# server computes with libmlp's own kernels whatever it links (infer.c pins
# them), so its answers are the same bits, and the image saves OpenBLAS's
# 36 MB plus libgfortran.
RUN make -j"$(nproc)" BLAS=0 build/noblas/reluserve \
 && cp build/noblas/reluserve /tmp/reluserve && strip --strip-unneeded /tmp/reluserve

# ---------------------------------------------------------------- runtime
FROM ${BASE}
# Only the libraries `ldd reluserve` lists beyond the base (the build fails
# below if one is missing; libgnutls30 and the rest of its chain come with
# the base, for apt), no documentation, no apt lists or logs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libjansson4 libuv1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old \
           /var/lib/dpkg/*-old /var/log/apt /var/log/dpkg.log \
           /usr/share/doc/*/changelog* /usr/share/man /usr/share/locale \
 && useradd --system --uid 10001 --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin reluserve
COPY --from=build /tmp/reluserve /usr/local/bin/reluserve
COPY --from=build /src/docker/healthcheck /usr/local/bin/reluserve-healthcheck
COPY --from=build /src/models /models
RUN ! ldd /usr/local/bin/reluserve | grep 'not found'

# Every flag has a RELUSERVE_* twin; these are the container's defaults.
# The server listens on 127.0.0.1 unless told otherwise; a container must
# listen on every interface for its published port to reach it.
ENV RELUSERVE_MODELS=/models \
    RELUSERVE_HOST=0.0.0.0 \
    RELUSERVE_PORT=8080 \
    RELUSERVE_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/reluserve-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/reluserve"]
CMD ["serve"]
