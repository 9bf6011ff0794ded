"""The one Kubernetes API wrapper: a thin async client over aiohttp.

In-cluster service-account config or a KUBECONFIG file; server-side apply for owned objects,
create-only for generated secrets, merge patches for status. Nothing above this layer speaks HTTP
to the API server.
"""
