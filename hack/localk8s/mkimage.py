#!/usr/bin/env python3
"""Write a one-layer container image as a `docker save`-style tarball, without Docker.

    mkimage.py OUT.tar REF --add SRC:DEST [--add SRC:DEST ...] --entrypoint '["/x"]' [--user U:G]
    mkimage.py OUT.tar REF --layer rootfs.tar [--cmd '["/bin/bash"]']   # e.g. a debootstrap tree

`ctr images import` (and `docker load`) accept the result. Used for the pause image and
the self-test probe image, which are single static binaries (FROM scratch equivalents).
"""

import argparse
import hashlib
import io
import json
import os
import tarfile

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("ref", help="image reference, e.g. localk8s/pause:3.10")
    ap.add_argument("--add", action="append", default=[], metavar="SRC:DEST")
    ap.add_argument("--layer", help="this (uncompressed) tar is the single layer (no --add)")
    ap.add_argument("--entrypoint", default="[]", help="JSON list")
    ap.add_argument("--cmd", default="[]", help="JSON list")
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--user", default="")
    a = ap.parse_args()

    if a.layer:
        h = hashlib.sha256()
        with open(a.layer, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        diff_id = "sha256:" + h.hexdigest()
    else:
        layer_buf = io.BytesIO()
        with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for spec in a.add:
                src, dest = spec.split(":", 1)
                ti = t.gettarinfo(src, dest.lstrip("/"))
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = 0
                with open(src, "rb") as f:
                    t.addfile(ti, f)
        layer = layer_buf.getvalue()
        diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg_obj = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": json.loads(a.entrypoint),
            "Cmd": json.loads(a.cmd),
            "Env": [DEFAULT_PATH, *a.env],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if a.user:
        cfg_obj["config"]["User"] = a.user
    cfg = json.dumps(cfg_obj).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    manifest = [{"Config": cfg_name, "RepoTags": [a.ref], "Layers": ["layer/layer.tar"]}]
    manifest = json.dumps(manifest).encode()
    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w") as out:
        ti = tarfile.TarInfo(cfg_name)
        ti.size, ti.mode = len(cfg), 0o644
        out.addfile(ti, io.BytesIO(cfg))
        if a.layer:
            ti = tarfile.TarInfo("layer/layer.tar")
            ti.size, ti.mode = os.path.getsize(a.layer), 0o644
            with open(a.layer, "rb") as f:
                out.addfile(ti, f)
        else:
            ti = tarfile.TarInfo("layer/layer.tar")
            ti.size, ti.mode = len(layer), 0o644
            out.addfile(ti, io.BytesIO(layer))
        ti = tarfile.TarInfo("manifest.json")
        ti.size, ti.mode = len(manifest), 0o644
        out.addfile(ti, io.BytesIO(manifest))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
