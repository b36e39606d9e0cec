"""The Graph API client: the one call path every Graph API request takes.

* :mod:`~instagram_graph.client.call_path` - :class:`GraphApiClient`: slot, auth, send, usage
  feed, classify, retry, audit.
* :mod:`~instagram_graph.client.auth` - :class:`GraphAuth`, the ``requests`` auth every request
  carries (token and ``appsecret_proof``).
* :mod:`~instagram_graph.client.credentials` - :class:`AccountTokens`, which token a call carries.
* :mod:`~instagram_graph.client.wire` - the pooled session, one send, and what an answer means.
"""

from instagram_graph.client.auth import GraphAuth, QueryTokenAuth
from instagram_graph.client.call_path import GraphApiClient
from instagram_graph.client.credentials import AccountTokens

__all__ = ["AccountTokens", "GraphApiClient", "GraphAuth", "QueryTokenAuth"]
