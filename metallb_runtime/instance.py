"""Which run of a service answers: a random id per start, reported the same way by every service.

A caller that holds state in a service (the gateway's announcements, peers, pools) compares the
id it last saw with the one in the service's `GetStatus` or in a watch stream's resume token
(`metallb.common.v1.ResumeToken.instance_id`); a different id means the service restarted with
nothing and must be told everything again. The id is drawn when a service's state is created:
once per process start in production, once per in-process server in tests.
"""

import uuid


def new_instance_id() -> str:
    """128 random bits, as 32 hex digits."""
    return uuid.uuid4().hex
