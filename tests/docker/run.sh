#!/bin/bash
# The container test (`make test-docker`; CI runs it after `make test`).
#
# Builds the offline Debian base (cached), the reluserve image (its build
# stage runs the unit tests and reproduces the models on that clean Debian)
# and the nginx image, then:
#   one container, run as docker/k8s run it (read-only root file system, no
#   capabilities, no new privileges): Docker's HEALTHCHECK turns healthy; a
#   real v2 inference matches numpy and the host's own build byte for byte,
#   diagnostics included; errors, the playground; not root; no OpenBLAS and
#   nothing unresolved in what the binary loads; the preStop command exists;
#   a container with --cpus 1 sizes its threads to that one CPU;
#   then SIGTERM (docker stop) under load: every request the clients sent is
#   answered, the access log holds exactly those, and the exit code is 0.
#   docker/compose.yaml: two replicas behind nginx; inferences reach both;
#   one replica stopped (SIGTERM) under load loses no request.
# Finally it removes every container and network it started; the images stay
# as build cache. Installs docker.io, debootstrap, docker-compose and curl
# when missing and, when no Docker daemon answers, starts one of its own
# (data in $RELUSERVE_DOCKER_STATE, default /tmp/reluserve-docker) and stops
# it at the end. Last line: "N passed, N failed".
#
#   tests/docker/run.sh      (PORT=18089 LB_PORT=18090 to move the host ports)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
IMAGE="${IMAGE:-reluserve:test}"
LB_IMAGE="${LB_IMAGE:-reluserve-lb:test}"
PORT="${PORT:-18089}"
LB_PORT="${LB_PORT:-18090}"
STATE="${RELUSERVE_DOCKER_STATE:-/tmp/reluserve-docker}"
NAME="reluserve-check-$$"
PROJECT="reluserve-check-$$"
URL="http://127.0.0.1:$PORT"
LB_URL="http://127.0.0.1:$LB_PORT"
CLIENT="/usr/bin/python3 $root/tests/docker/client.py"
work=$(mktemp -d /tmp/reluserve-docker-test.XXXXXX)
t0=$(date +%s)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
    if [ "$fail" -eq 0 ]; then
        rm -rf "$work"
        echo "# test-docker took $(($(date +%s) - t0)) s"
    else
        echo "# test-docker took $(($(date +%s) - t0)) s; logs in $work"
    fi
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}
step() { echo "# $(($(date +%s) - t0)) s: $*"; }

# ---------------------------------------------------------------- tools
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing="$missing python3-numpy"
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    missing="$missing docker-compose"
fi
if [ -n "$missing" ]; then
    step "installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y --no-install-recommends $missing || { bad "apt-get install$missing"; finish; }
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

dockerd_pid=""
if ! docker info >/dev/null 2>&1; then
    export DOCKER_HOST="unix://$STATE/docker.sock"
    if ! docker info >/dev/null 2>&1; then
        step "starting dockerd (data $STATE/data, log $STATE/dockerd.log)"
        $SUDO mkdir -p "$STATE"
        $SUDO setsid dockerd --data-root "$STATE/data" --exec-root "$STATE/exec" \
            -H "$DOCKER_HOST" --pidfile "$STATE/dockerd.pid" \
            >"$STATE/dockerd.log" 2>&1 </dev/null &
        dockerd_pid=$!
        for _ in $(seq 150); do
            docker info >/dev/null 2>&1 && break
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.2
        done
        if ! docker info >/dev/null 2>&1; then
            tail -n 20 "$STATE/dockerd.log"
            bad "dockerd starts"
            finish
        fi
    fi
fi

cleanup() {
    docker rm -f "$NAME" >/dev/null 2>&1
    docker network rm "$NAME" >/dev/null 2>&1
    RELUSERVE_IMAGE="$IMAGE" RELUSERVE_LB_IMAGE="$LB_IMAGE" RELUSERVE_HOST_PORT="$LB_PORT" \
        "${compose[@]}" -f docker/compose.yaml -p "$PROJECT" down --remove-orphans \
        >/dev/null 2>&1
    [ -n "${host_pid:-}" ] && kill "$host_pid" 2>/dev/null
    if [ -n "$dockerd_pid" ]; then # the daemon this script started; its data stays as cache
        $SUDO kill -TERM "$(cat "$STATE/dockerd.pid" 2>/dev/null || echo "$dockerd_pid")" 2>/dev/null
        wait "$dockerd_pid" 2>/dev/null
        # dockerd leaves its default network namespace mounted.
        $SUDO umount "$STATE/exec/netns/default" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
step "base image"
check "offline Debian base image (scripts/docker-base-image)" scripts/docker-base-image
build() { # build TAG CONTEXT [ARGS...]: docker build, log in $work
    local tag=$1 ctx=$2 b0
    shift 2
    b0=$(date +%s)
    # --network host: the build's apt-get needs no bridge (another daemon on
    # this host may share docker0 and its addresses).
    if docker build --network host -t "$tag" "$@" "$ctx" >"$work/build-${tag%%:*}.log" 2>&1; then
        ok "docker build $tag ($(($(date +%s) - b0)) s)"
    else
        tail -n 40 "$work/build-${tag%%:*}.log"
        bad "docker build $tag (log: $work/build-${tag%%:*}.log)"
        finish
    fi
}
step "reluserve image (its build stage runs the unit tests and make models)"
build "$IMAGE" .
# The build fails if a unit test fails or make models differs; a cached
# layer means these very sources passed both before.
if grep -q '^unit tests passed' "$work/build-${IMAGE%%:*}.log"; then
    grep -E '^(unit tests passed|make models reproduces)' "$work/build-${IMAGE%%:*}.log" | sed 's/^/# build stage: /'
else
    echo "# build stage: unit tests and make models reused from the cache (the same sources passed them)"
fi
step "nginx image"
build "$LB_IMAGE" docker/nginx
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(docker image inspect -f '{{.Size}}' reluserve/debian:bookworm)
echo "# $IMAGE: $size bytes = base $base_size + $((size - base_size)) (binary, libraries, models)"
check "image under 100 MB ($((size / 1000000)) MB)" test "$size" -lt 100000000

# ---------------------------------------------------------------- one container
step "one container"
# A network of its own (not docker0, which another daemon may share).
docker network create "$NAME" >/dev/null
docker run -d --name "$NAME" --network "$NAME" -p "127.0.0.1:$PORT:8080" \
    --read-only --tmpfs /tmp:size=16m --cap-drop ALL --security-opt no-new-privileges \
    -e RELUSERVE_BATCH_DELAY_US=200000 \
    "$IMAGE" >/dev/null
# (200 ms of batching delay keeps every client's request queued for a while,
# so that the SIGTERM below certainly finds requests to finish.)
for i in $(seq 100); do
    curl -fsS "$URL/v2/health/ready" >/dev/null 2>&1 && break
    if [ "$i" -eq 100 ] || [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
        docker logs "$NAME" 2>&1 | tail -n 20
        bad "container becomes ready"
        finish
    fi
    sleep 0.2
done
ok "container ready on $URL (read-only root, no capabilities, no new privileges)"
health=starting
for _ in $(seq 60); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$health" = starting ] || break
    sleep 0.5
done
check "Docker HEALTHCHECK reports healthy (got $health)" test "$health" = healthy

host_args=()
if [ -x build/reluserve ]; then # the host's own build (make test made it), for a byte comparison
    host_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    build/reluserve serve --models models --port "$host_port" >"$work/host.log" 2>&1 &
    host_pid=$!
    for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$host_port/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
    host_args=(--same-as "http://127.0.0.1:$host_port")
fi
same=""
[ ${#host_args[@]} -gt 0 ] && same=", the same bytes as build/reluserve on the host"
check "v2 inference: outputs match numpy, diagnostics the dead units it sees$same" \
    $CLIENT infer "$URL" models/iris/1/model.json "${host_args[@]}"
[ -n "${host_pid:-}" ] && { kill "$host_pid"; wait "$host_pid" 2>/dev/null; host_pid=""; }
err=$(curl -s -w ' %{http_code}' "$URL/v2/models/iris/infer" -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7]}]}')
want=$(printf '%s\n 400' '{"error":"input '"'input'"': shape [2,4] needs 8 values, got 7"}')
check "a bad request is a 400 naming the problem" test "$err" = "$want"
check "GET /v2/health/live is 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/live")" = 200
check "GET / serves the playground" sh -c "curl -fsS '$URL/' | grep -q 'reluserve playground'"
uids=$(docker exec "$NAME" sh -c 'grep ^Uid: /proc/1/status' | awk '{print $2, $3, $4, $5}')
check "the server runs as uid 10001, not root (real, effective, saved, fs: $uids)" \
    test "$uids" = "10001 10001 10001 10001"
check "the root file system is read-only" sh -c "! docker exec '$NAME' touch /usr/local/bin/x 2>/dev/null"
libs=$(docker exec "$NAME" ldd /usr/local/bin/reluserve)
echo "$libs" >"$work/ldd.txt"
check "every library the binary loads is there" sh -c "! grep -q 'not found' '$work/ldd.txt'"
check "no OpenBLAS in the image (the server computes with libmlp's own kernels)" \
    sh -c "! grep -qi blas '$work/ldd.txt' && ! docker exec '$NAME' sh -c 'ls /usr/lib/*/ | grep -qi blas'"
check "the Kubernetes preStop command (sleep) runs in the image" docker exec "$NAME" sleep 0

# A CPU limit (docker --cpus, a Kubernetes CPU limit: the cgroup quota) sizes
# the thread defaults, not the host's cores.
docker run -d --name "$NAME-cpu" --network "$NAME" --cpus 1 "$IMAGE" >/dev/null
banner=""
for _ in $(seq 100); do
    banner=$(docker logs "$NAME-cpu" 2>&1 | grep "listening on")
    [ -n "$banner" ] && break
    sleep 0.1
done
docker rm -f "$NAME-cpu" >/dev/null
echo "$banner" >"$work/cpu-banner.txt"
check "a container with --cpus 1 starts 1 compute thread and 1 HTTP thread for 1 CPU" \
    sh -c "grep -q ', 1 compute thread, .*, 1 HTTP thread for 1 CPU' '$work/cpu-banner.txt'"

step "SIGTERM under load"
$CLIENT load "$URL" "$work/load1.json" --clients 16 --until-close --ready "$work/load1.ready" \
    >"$work/load1.out" 2>&1 &
load_pid=$!
for _ in $(seq 100); do [ -e "$work/load1.ready" ] && break; sleep 0.1; done
docker stop -t 30 "$NAME" >/dev/null
wait "$load_pid"
load_rc=$?
echo "# clients: $(cat "$work/load1.out")"
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
docker logs "$NAME" >"$work/server.log" 2>&1
check "every request the 16 clients sent was answered 200 with the right class" test "$load_rc" = 0
check "SIGTERM (docker stop) under load: exit code 0 (got $code)" test "$code" = 0
check "the access log holds exactly the clients' answers, and the signal found requests to finish" \
    /usr/bin/python3 - "$work/load1.json" "$work/server.log" <<'EOF'
import json, re, sys
answers = json.load(open(sys.argv[1]))["answers"]
log = open(sys.argv[2]).read().splitlines()
logged = {}
for line in log:
    if line.startswith("{") and '"msg":"access"' in line:
        a = json.loads(line)
        if re.fullmatch(r"c\d+-\d+", a.get("request_id", "")):
            logged[a["request_id"]] = a["status"]
sent = {rid: status for rid, (status, _) in answers.items()}
assert logged == sent, (len(logged), len(sent), sorted(set(sent) ^ set(logged))[:5])
[sig] = [l for l in log if "SIGTERM: no new connections" in l]
owed = int(re.search(r"finishing (\d+) open requests", sig).group(1))
assert owed >= 1, sig
print(f"# {len(sent)} answers = {len(logged)} access lines; {owed} requests owed at the signal")
EOF
docker rm "$NAME" >/dev/null && docker network rm "$NAME" >/dev/null

# ---------------------------------------------------------------- compose
step "docker/compose.yaml: two replicas behind nginx (${compose[*]})"
export RELUSERVE_IMAGE="$IMAGE" RELUSERVE_LB_IMAGE="$LB_IMAGE" RELUSERVE_HOST_PORT="$LB_PORT"
dc() { "${compose[@]}" -f docker/compose.yaml -p "$PROJECT" "$@"; }
if dc up -d --no-build >"$work/compose-up.log" 2>&1; then
    ok "compose up: reluserve-1, reluserve-2 healthy, then nginx"
else
    cat "$work/compose-up.log"
    bad "compose up"
    finish
fi
for _ in $(seq 100); do curl -fsS "$LB_URL/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
check "an inference through nginx matches numpy" $CLIENT infer "$LB_URL" models/iris/1/model.json
replica1=$(dc ps -q reluserve-1)
rm -f "$work/load2.stop"
$CLIENT load "$LB_URL" "$work/load2.json" --clients 8 --ready "$work/load2.ready" \
    --stop "$work/load2.stop" >"$work/load2.out" 2>&1 &
load_pid=$!
for _ in $(seq 100); do [ -e "$work/load2.ready" ] && break; sleep 0.1; done
sleep 1
dc stop -t 25 reluserve-1 >/dev/null 2>&1
sleep 1
touch "$work/load2.stop"
wait "$load_pid"
load_rc=$?
echo "# clients: $(cat "$work/load2.out")"
code=$(docker inspect -f '{{.State.ExitCode}}' "$replica1")
check "one replica stopped (SIGTERM) under load: no request lost, every answer 200" test "$load_rc" = 0
check "the stopped replica exited 0 (got $code)" test "$code" = 0
check "answers came from both replicas" /usr/bin/python3 - "$work/load2.json" <<'EOF'
import collections, json, sys
answers = json.load(open(sys.argv[1]))["answers"]
# X-Served-By lists every replica nginx tried; the last one answered.
by = collections.Counter(served.split(", ")[-1] for _, served in answers.values())
print(f"# answers per replica: {dict(by)}")
assert len(by) == 2, by
EOF
docker logs "$replica1" >"$work/replica1.log" 2>&1
check "reluserve-1 logged its SIGTERM drain and stopped" \
    sh -c "grep -q 'SIGTERM: no new connections' '$work/replica1.log' && grep -q '\"msg\":\"stopped\"' '$work/replica1.log'"
dc down --remove-orphans >/dev/null 2>&1 && ok "compose down: containers and network removed" \
    || bad "compose down"
left="$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")$(docker ps -aq --filter "name=$NAME")"
left="$left$(docker network ls -q --filter "name=$NAME")$(docker network ls -q --filter "name=${PROJECT}_")"
check "no container or network of the test is left" test -z "$left"

finish
