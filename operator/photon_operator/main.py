"""`photon-operator`: configure logging from PHOTON_OPERATOR_* settings and run kopf.

Runs standalone (one replica, Deployment strategy Recreate: kopf peering is not leader
election), cluster-wide or in the listed namespaces, with kopf's liveness endpoint on /healthz.
"""

from __future__ import annotations

import logging
import os
import sys

from photon_common import logs

from .model.settings import Settings, SettingsError


def setup_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)
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
