"""Redis stream ids, keys and the idempotent append: the small facts the bus and its
subscriptions share."""

from __future__ import annotations

import re
from typing import Any

from agentlightning_core.bus.base import EventBus
from agentlightning_core.errors import InvalidRequestError
from agentlightning_core.types import Event

#: Fields of one stream entry: the publisher's own event id (for duplicate checks) and the JSON.
FIELD_UID = b"u"
FIELD_DATA = b"d"

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

#: Append an event unless an entry with the same publisher id is among the stream's last
#: ``ARGV[4]`` entries; return the id of the entry either way. Used only when retrying after a
#: connection error, when the first XADD may or may not have reached the server.
ADD_ONCE_LUA = """
local entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', tonumber(ARGV[4]))
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'u' and fields[i + 1] == ARGV[1] then
      return entry[1]
    end
  end
end
return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'u', ARGV[1], 'd', ARGV[2])
"""


def parse_stream_id(value: str | bytes) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def check_since(since: str) -> str:
    if not _STREAM_ID.match(since):
        raise InvalidRequestError(
            f"since={since!r} is not an event id of the redis bus; pass the event_id of an event this "
            "bus delivered or returned (ids look like 1712345678901-0)"
        )
    return since


def decode_entry(entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    """The stored event, with the stream entry id as its ``event_id`` (ordered, usable as ``since``)."""
    event = EventBus.decode(fields[FIELD_DATA])
    event_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return event.model_copy(update={"event_id": event_id})
