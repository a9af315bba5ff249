"""The Kubernetes and KServe manifests in docker/k8s match the binary they run.

No cluster is needed: every file must be well-formed YAML with the fields a
cluster requires, and what the manifests tell the binary must exist in it —
every flag and RELUSERVE_* name in `reluserve serve --help`, every probe and
scrape path answered by the router, every port the one the server listens
on. The strongest check starts the real binary with each container's own
arguments and environment (as the kubelet would pass them; only host, port
and model folder replaced for a test on loopback) and asks it every path the
manifests name. Shutdown timing: terminationGracePeriodSeconds covers the
preStop delay plus --shutdown-grace-ms plus a margin to exit."""

import glob
import math
import os
import re
import subprocess

import pytest
import yaml

import helpers

K8S = os.path.join(helpers.ROOT, "docker", "k8s")
DOCKERFILE = os.path.join(helpers.ROOT, "Dockerfile")
EXIT_MARGIN_S = (1, 10)  # terminationGracePeriodSeconds - preStop - grace, in seconds


def _files():
    return sorted(glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True))


def _load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def _objects():
    """(file, object) for every Kubernetes object (kustomizations and patches aside)."""
    out = []
    for path in _files():
        for d in _load(path):
            if d.get("kind") != "Kustomization" and path not in _patch_files():
                out.append((os.path.relpath(path, K8S), d))
    return out


def _patch_files():
    patches = []
    for path in glob.glob(os.path.join(K8S, "**", "kustomization.yaml"), recursive=True):
        for p in _load(path)[0].get("patches", []):
            patches.append(os.path.normpath(os.path.join(os.path.dirname(path), p["path"])))
    return patches


def _one(kind):
    found = [d for _, d in _objects() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in docker/k8s, found {len(found)}"
    return found[0]


def _help():
    """flag -> (env name, default) from `reluserve serve --help`."""
    out = subprocess.run([helpers.binary(), "serve", "--help"], capture_output=True, text=True,
                         timeout=30)
    text = out.stdout + out.stderr
    flags = {}
    for m in re.finditer(r"^  --([a-z0-9-]+)[^\n]*\n(?:      [^\n]*\n)*?      env (RELUSERVE_\w+), "
                         r"default ([^\n]*)$", text, re.M):
        flags[m.group(1)] = (m.group(2), m.group(3))
    assert len(flags) > 20, f"could not read the flags from serve --help:\n{text}"
    return flags


def _image_env():
    """ENV of the Dockerfile's final stage: what a container gets before the manifests."""
    with open(DOCKERFILE) as f:
        text = f.read().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    env = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return env


def _containers():
    """(label, container, pod-level spec) for every container the manifests run."""
    out = []
    dep = _one("Deployment")
    pod = dep["spec"]["template"]["spec"]
    for c in pod["containers"]:
        out.append(("Deployment", c, pod))
    rt = _one("ServingRuntime")
    isvc = _one("InferenceService")
    for c in rt["spec"]["containers"]:
        out.append(("ServingRuntime", c, isvc["spec"]["predictor"]))
    return out


def _cpu(q):
    return float(q[:-1]) / 1000 if str(q).endswith("m") else float(q)


def _env(c):
    """The container's environment as the kubelet builds it: ConfigMaps it
    names (envFrom), literal values, resource fields; optional Secrets absent."""
    env = {}
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for _, d in _objects()
                  if d["kind"] == "ConfigMap"}
    for src in c.get("envFrom", []):
        name = src["configMapRef"]["name"]
        assert name in configmaps, f"envFrom names ConfigMap {name!r}, which docker/k8s lacks"
        env.update(configmaps[name])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "resourceFieldRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["resourceFieldRef"]
            res, field = ref["resource"].split(".", 1)
            q = c["resources"][res][field]
            env[e["name"]] = str(math.ceil(_cpu(q) / _cpu(ref.get("divisor", "1"))))
        else:
            assert e["valueFrom"]["secretKeyRef"].get("optional"), e
    return env


def _arg(args, flag):
    """The value the binary takes for --flag from args (the last one wins), or None."""
    value = None
    for i, a in enumerate(args):
        if a == "--" + flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith("--" + flag + "="):
            value = a.split("=", 1)[1]
    return value


def _setting(c, flag, env_name):
    """What the server in container c uses for --flag: its args, then its env,
    then the image's ENV, then the binary's default."""
    args = c.get("args", [])[1:]
    for source in (_arg(args, flag), _env(c).get(env_name), _image_env().get(env_name)):
        if source is not None:
            return source
    return _help()[flag][1]


def _port(c):
    return int(_setting(c, "port", "RELUSERVE_PORT"))


def _probe_port(c, probe):
    port = probe["httpGet"]["port"]
    if isinstance(port, str):
        named = {p.get("name"): p["containerPort"] for p in c["ports"]}
        assert port in named, f"probe port {port!r} names no containerPort"
        port = named[port]
    return port


def _prestop_s(c):
    cmd = c["lifecycle"]["preStop"]["exec"]["command"]
    assert cmd[0] == "sleep" and len(cmd) == 2, cmd
    return float(cmd[1])


# ---------------------------------------------------------------- files

def test_every_manifest_is_well_formed_with_kind_and_name():
    assert _files(), "no YAML in docker/k8s"
    for path in _files():
        docs = _load(path)  # raises on malformed YAML
        assert docs, f"{path} is empty"
        for d in docs:
            assert isinstance(d, dict) and d.get("apiVersion") and d.get("kind"), (path, d)
            if d["kind"] != "Kustomization":
                assert d.get("metadata", {}).get("name"), f"{path}: {d['kind']} without a name"


def test_kustomizations_name_files_that_exist():
    for path in glob.glob(os.path.join(K8S, "**", "kustomization.yaml"), recursive=True):
        k = _load(path)[0]
        here = os.path.dirname(path)
        for r in k.get("resources", []):
            target = os.path.normpath(os.path.join(here, r))
            ok = os.path.isfile(target) or os.path.isfile(os.path.join(target, "kustomization.yaml"))
            assert ok, f"{path}: resource {r} does not exist"
        for p in k.get("patches", []):
            assert os.path.isfile(os.path.join(here, p["path"])), f"{path}: patch {p} missing"
    base = _load(os.path.join(K8S, "kustomization.yaml"))[0]
    kinds = {d["kind"] for r in base["resources"] for d in _load(os.path.join(K8S, r))}
    for kind in ("Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget"):
        assert kind in kinds, f"kubectl apply -k docker/k8s would create no {kind}"


def test_service_hpa_and_pdb_point_at_the_deployment():
    dep = _one("Deployment")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc, hpa, pdb = _one("Service"), _one("HorizontalPodAutoscaler"), _one("PodDisruptionBudget")
    assert svc["spec"]["selector"].items() <= labels.items(), "the Service selects no pod"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the PDB covers no pod"
    c = dep["spec"]["template"]["spec"]["containers"][0]
    names = {p.get("name"): p["containerPort"] for p in c["ports"]}
    for p in svc["spec"]["ports"]:
        target = p["targetPort"]
        assert (names.get(target) if isinstance(target, str) else target) == _port(c), p
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", dep["metadata"]["name"]), ref
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], hpa["spec"]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], \
        "the PDB would block every voluntary disruption at the autoscaler's minimum"
    assert "replicas" not in dep["spec"], "the HPA owns the replica count; a re-apply resets it"


def test_the_models_volume_overlay_mounts_a_claim_where_the_server_reads_models():
    overlay = os.path.join(K8S, "own-models")
    patch = _load(os.path.join(overlay, "models-volume.yaml"))[0]
    pvc = _load(os.path.join(overlay, "pvc.yaml"))[0]
    spec = patch["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in spec["volumes"]}
    c = _one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    [mount] = [m for pc in spec["containers"] for m in pc["volumeMounts"]]
    assert spec["containers"][0]["name"] == c["name"], "the patch names another container"
    assert mount["mountPath"] == _setting(c, "models", "RELUSERVE_MODELS"), mount
    assert vols[mount["name"]]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]


# ---------------------------------------------------------------- the binary

@pytest.mark.parametrize("label", ["Deployment", "ServingRuntime"])
def test_probes_resources_and_shutdown_timing(label):
    [(_, c, pod)] = [x for x in _containers() if x[0] == label]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["startupProbe"]["httpGet"]["path"].startswith("/v2/health/")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert _probe_port(c, c[probe]) == _port(c), f"{label} {probe} misses the server's port"
    assert [p["containerPort"] for p in c["ports"]] == [_port(c)]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= c["resources"][kind].keys(), (label, c["resources"])
    grace_s = int(_setting(c, "shutdown-grace-ms", "RELUSERVE_SHUTDOWN_GRACE_MS")) / 1000
    margin = pod["terminationGracePeriodSeconds"] - _prestop_s(c) - grace_s
    assert EXIT_MARGIN_S[0] <= margin <= EXIT_MARGIN_S[1], \
        (f"{label}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} should be "
         f"preStop {_prestop_s(c)} s + shutdown grace {grace_s} s + {EXIT_MARGIN_S} s")


def test_every_flag_and_env_name_exists_in_the_binary():
    flags = _help()
    known_env = {env for env, _ in flags.values()}
    commands = subprocess.run([helpers.binary(), "--help"], capture_output=True, text=True,
                              timeout=30)
    for label, c, _ in _containers():
        args = c.get("args", [])
        assert args and re.search(rf"^  {re.escape(args[0])} ", commands.stdout + commands.stderr,
                                  re.M), f"{label}: no command {args[:1]}"
        for a in args[1:]:
            if a.startswith("--"):
                assert a[2:].split("=")[0] in flags, f"{label}: serve has no flag {a}"
        for name in _env(c):
            assert name in known_env, f"{label}: {name} is no setting of serve --help"
    for name in _image_env():
        assert name in known_env, f"Dockerfile ENV {name} is no setting of serve --help"


@pytest.mark.parametrize("label", ["Deployment", "ServingRuntime"])
def test_the_container_command_line_serves_every_path_the_manifests_name(label, tmp_path):
    [(_, c, pod)] = [x for x in _containers() if x[0] == label]
    paths = {c[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe")}
    if label == "Deployment":
        annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
        paths.add(annotations["prometheus.io/path"])
        assert int(annotations["prometheus.io/port"]) == _port(c)
    # The manifests' own arguments and environment, then loopback, a free port and the
    # bundled models (later flags win; flags win over the environment).
    assert c["args"][0] == "serve", c["args"]
    args = c["args"][1:] + ["--host", "127.0.0.1", "--models", os.path.join(helpers.ROOT, "models")]
    port = helpers.free_port()
    with helpers.serving(None, args + ["--port", str(port)], env=_env(c), port=port,
                         log_dir=str(tmp_path), flags=False):
        for path in sorted(paths):
            # as the kubelet and a Prometheus scrape send them: Host is the pod's IP
            r = helpers.get(port, path, headers={"Host": f"10.244.1.7:{_port(c)}"})
            assert r.status == 200, f"{label}: GET {path} -> {r}"
