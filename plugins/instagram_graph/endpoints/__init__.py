"""The Graph API endpoints the project calls, one group per module, each with its field lists.

Each group is a mixin of :class:`~instagram_graph.hooks.graph_api.InstagramGraphHook` (so
callers keep calling ``hook.get_profile(...)``) that makes its calls through the hook's
:class:`~instagram_graph.client.GraphApiClient`:

* :mod:`~instagram_graph.endpoints.reads` - profile, media, carousel children, stories,
  comments and replies;
* :mod:`~instagram_graph.endpoints.insights` - account and media insights;
* :mod:`~instagram_graph.endpoints.publishing` - containers, their status, publish, the
  publishing limit;
* :mod:`~instagram_graph.endpoints.messaging` - conversations, messages, send;
* :mod:`~instagram_graph.endpoints.tokens` - token refresh and revoke;
* :mod:`~instagram_graph.endpoints.facebook_login` - a Facebook user's token exchange, Pages
  and revocation (Facebook Login);
* :mod:`~instagram_graph.endpoints.paging` - cursor paging of any edge.
"""
