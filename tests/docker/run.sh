#!/bin/sh
# Container check (slow, not part of `make test`): builds the offline Debian
# base image and the reluserve image, runs it the way docker/k8s does
# (non-root, read-only root filesystem, no capabilities) on
# 127.0.0.1:18089, and checks health, the Docker HEALTHCHECK, an iris
# inference, the playground, the user, and a clean exit on SIGTERM.
# Installs docker.io/debootstrap and starts dockerd when they are missing
# (and stops the dockerd it started). Last line: "N passed, N failed".
#
#   tests/docker/run.sh          (IMAGE=reluserve:test PORT=18089 to change)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
IMAGE="${IMAGE:-reluserve:test}"
PORT="${PORT:-18089}"
NAME="reluserve-check-$$"
URL="http://127.0.0.1:$PORT"
t0=$(date +%s)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...
    name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
    echo "# $(($(date +%s) - t0)) s"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

# ---------------------------------------------------------------- tools
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
    echo "# installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

dockerd_pid=""
if ! docker info >/dev/null 2>&1; then
    echo "# starting dockerd (log: /tmp/reluserve-dockerd.log)"
    $SUDO dockerd >/tmp/reluserve-dockerd.log 2>&1 &
    dockerd_pid=$!
    i=0
    until docker info >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 60 ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
            tail -n 20 /tmp/reluserve-dockerd.log
            bad "dockerd starts"
            finish
            exit 1
        fi
        sleep 0.5
    done
fi
cleanup() {
    docker rm -f "$NAME" >/dev/null 2>&1 || true
    if [ -n "$dockerd_pid" ]; then
        $SUDO kill -TERM "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
if scripts/docker-base-image; then ok "offline base image"; else bad "offline base image"; finish; exit 1; fi
b0=$(date +%s)
if docker build -q -t "$IMAGE" . >/tmp/reluserve-docker-build.log 2>&1; then
    ok "docker build ($(($(date +%s) - b0)) s)"
else
    tail -n 30 /tmp/reluserve-docker-build.log
    bad "docker build"
    finish
    exit 1
fi
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "# image $IMAGE: $size bytes ($((size / 1048576)) MiB)"

# ---------------------------------------------------------------- run
docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:8080" \
    --read-only --tmpfs /tmp:size=16m --cap-drop ALL --security-opt no-new-privileges \
    "$IMAGE" >/dev/null
i=0
until curl -fsS "$URL/v2/health/ready" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
        docker logs "$NAME" 2>&1 | tail -n 20
        bad "container becomes ready"
        finish
        exit 1
    fi
    sleep 0.2
done
ok "container becomes ready on $URL (read-only rootfs, no capabilities)"

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "GET /v2/health/live is 200" test "$(status "$URL/v2/health/live")" = 200
check "GET / serves the playground" sh -c "curl -fsS '$URL/' | grep -q 'reluserve playground'"
check "runs as uid 10001, not root" test "$(docker exec "$NAME" id -u)" = 10001

body='{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}],"parameters":{"diagnostics":"summary"}}'
answer=$(curl -sS "$URL/v2/models/iris/infer" -H 'Content-Type: application/json' -d "$body" || true)
echo "# iris answer: $answer" | cut -c1-300
check "iris inference calls the setosa sample class 0 and reports dead_fraction" python3 -c '
import json, sys
r = json.loads(sys.argv[1])
y = r["outputs"][0]["data"]
assert max(range(len(y)), key=y.__getitem__) == 0, y
assert "dead_fraction" in r["diagnostics"], r
' "$answer"
check "a bad request is a 400 with an error sentence" sh -c "
    out=\$(curl -s -w ' %{http_code}' '$URL/v2/models/iris/infer' -H 'Content-Type: application/json' -d '{\"inputs\":[]}')
    echo \"\$out\" | grep -q '\"error\"' && echo \"\$out\" | grep -q ' 400\$'"

# Docker's own HEALTHCHECK (no curl in the image): first probe after ~10 s.
i=0
health=starting
while [ "$i" -lt 40 ]; do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$health" = starting ] || break
    i=$((i + 1))
    sleep 0.5
done
check "Docker HEALTHCHECK reports healthy (got $health)" test "$health" = healthy

docker stop -t 15 "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
check "SIGTERM (docker stop) exits 0 (got $code)" test "$code" = 0

finish
