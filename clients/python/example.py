"""A session, a context and a tool call with the generated Python client (README "Python client").

CP_URL, CP_KEY: the service and a tenant key; CP_ROUTE: a policy route with a tool named `book`.
The dx test runs this file against `npm start` and reads the JSON it prints last.
"""

import json
import os
import uuid

from context_plane_client import AuthenticatedClient
from context_plane_client.api.context import build_context
from context_plane_client.api.sessions import append_turns, get_session
from context_plane_client.api.tools import invoke_tool
from context_plane_client.models import (
    AppendAnswer,
    AppendTurnsRequest,
    ContextRequest,
    ContextResponse,
    Error,
    Session,
    ToolAnswer,
    ToolInvocationRequest,
)

client = AuthenticatedClient(base_url=os.environ["CP_URL"], token=os.environ["CP_KEY"])
session_id = f"py-{uuid.uuid4().hex[:8]}"

appended = append_turns.sync(
    session_id,
    client=client,
    idempotency_key=f"{session_id}-1",
    body=AppendTurnsRequest.from_dict(
        {
            "expectedVersion": 0,
            "turns": [
                {"role": "user", "content": "Book me a hotel in Oslo for two nights.", "ref": "m1"},
                {"role": "assistant", "content": "Booking it now."},
            ],
        }
    ),
)
assert isinstance(appended, AppendAnswer), appended

# A stale version is a 409 with the one error shape: code and details.
stale = append_turns.sync(
    session_id,
    client=client,
    body=AppendTurnsRequest.from_dict({"expectedVersion": 0, "turns": [{"role": "user", "content": "late"}]}),
)
assert isinstance(stale, Error), stale

context = build_context.sync(
    session_id, client=client, body=ContextRequest.from_dict({"route": "default", "input": "Which city is the hotel in?"})
)
assert isinstance(context, ContextResponse), context

tool = invoke_tool.sync(
    session_id,
    "book",
    client=client,
    prefer="wait=5",
    body=ToolInvocationRequest.from_dict(
        {"stepIndex": 1, "arguments": {"city": "Oslo", "nights": 2}, "route": os.environ["CP_ROUTE"]}
    ),
)
assert isinstance(tool, ToolAnswer), tool

session = get_session.sync(session_id, client=client)
assert isinstance(session, Session), session

print(
    json.dumps(
        {
            "sessionId": session_id,
            "version": appended.version,
            "conflict": {"code": stale.error.code.value, "details": stale.error.details.to_dict()},
            "roles": [m.role.value for m in context.messages],
            "sections": {s.source.value: s.tokens for s in context.sections},
            "fingerprint": context.fingerprint,
            "tool": tool.to_dict(),
            "sessionVersion": session.version,
            "lastSeq": session.last_seq,
        }
    )
)
