"""PhotonDB client: an asyncio HTTP client for the node's public API, and `photonctl`."""

from photon_client.client import PhotonClient, PhotonError

__all__ = ["PhotonClient", "PhotonError"]
