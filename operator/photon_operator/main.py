"""`photon-operator`: configure logging from PHOTON_OPERATOR_* settings and run kopf.

Runs standalone (one replica, Deployment strategy Recreate: kopf peering is not leader
election), cluster-wide or in the listed namespaces, with kopf's liveness endpoint on /healthz.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from .model.settings import Settings, SettingsError


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("k8s_obj", "k8s_skip"):
            entry.pop(key, None)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        from .model.settings import OPTIONS, PREFIX

        for name, _parse, default, text in OPTIONS:
            print(f"  {PREFIX}{name.upper():<28} {text} (default: {default or 'empty'})")
        return 0
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        print(f"photon-operator: {error}", file=sys.stderr)
        return 2
    setup_logging(settings)
    import kopf

    from . import handlers  # registers the handlers with kopf

    del handlers
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
