"""The Graph API's request handlers: functions taking a ``Call`` and returning the JSON answer.

``graph.ROUTES`` names the handler of each (method, node type, edge). Handlers read and
change the simulator's state objects (``TokenBook``, ``Inbox``, ``PublishingDesk``, ...),
which know nothing of requests.
"""
