"""Every message on the CloudAudit bus: one module per domain, versioned subjects.

A change to a published schema is a new version (v2 subject and model), never an edit in place.
"""

from cloudaudit.common.events.base import Event, Reply, Request, RpcError

__all__ = ["Event", "Reply", "Request", "RpcError"]
