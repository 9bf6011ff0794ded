"""Where the API server is and how to authenticate: in-cluster, or a kubeconfig file."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Connection:
    server: str
    ssl: ssl.SSLContext | bool
    token_file: str | None = None
    token: str | None = None
    namespace: str = "default"

    def headers(self) -> dict[str, str]:
        token = self.token
        if self.token_file:  # projected tokens rotate: read on every request
            token = Path(self.token_file).read_text(encoding="utf-8").strip()
        return {"Authorization": f"Bearer {token}"} if token else {}


def load(environ: dict[str, str] | None = None) -> Connection:
    env = dict(os.environ if environ is None else environ)
    if "KUBERNETES_SERVICE_HOST" in env and (SA_DIR / "token").exists():
        host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        context = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
        namespace = (SA_DIR / "namespace").read_text(encoding="utf-8").strip()
        return Connection(f"https://{host}:{port}", context, str(SA_DIR / "token"), None, namespace)
    path = env.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube/config")
    return from_kubeconfig(yaml.safe_load(Path(path).read_text(encoding="utf-8")), Path(path))


def _named(items: list[dict[str, Any]], name: str, key: str) -> dict[str, Any]:
    for item in items or ():
        if item.get("name") == name:
            return item.get(key) or {}
    raise ValueError(f"kubeconfig has no {key} named {name!r}")


def _material(entry: dict[str, Any], key: str, base: Path) -> str | None:
    """A file path for `key` (`<key>-data` is written to a private temporary file)."""
    if entry.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)  # noqa: SIM115
        with handle:
            handle.write(base64.b64decode(entry[f"{key}-data"]))
        return handle.name
    if entry.get(key):
        return str((base.parent / entry[key]).resolve())
    return None


def from_kubeconfig(config: dict[str, Any], path: Path) -> Connection:
    context = _named(config.get("contexts"), config["current-context"], "context")
    cluster = _named(config.get("clusters"), context["cluster"], "cluster")
    user = _named(config.get("users"), context["user"], "user")
    if cluster.get("insecure-skip-tls-verify"):
        tls: ssl.SSLContext | bool = False
    else:
        tls = ssl.create_default_context(cafile=_material(cluster, "certificate-authority", path))
        cert = _material(user, "client-certificate", path)
        if cert:
            tls.load_cert_chain(cert, _material(user, "client-key", path))
    return Connection(
        server=cluster["server"].rstrip("/"),
        ssl=tls,
        token_file=user.get("tokenFile"),
        token=user.get("token"),
        namespace=context.get("namespace", "default"),
    )
