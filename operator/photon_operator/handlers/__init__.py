"""kopf handlers: the only modules that import kopf (besides main). Each is a few lines that
call into the reconcile layer; importing this package registers them.
"""

from . import cluster, lifecycle

__all__ = ["cluster", "lifecycle"]
