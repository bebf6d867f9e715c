"""Maximum lengths of the strings that the stores keep in sized columns.

Declared on the API models, so a value that is too long is refused with a 422 naming the field
before it reaches a database (PostgreSQL would otherwise fail the statement, and SQLite would
quietly keep it where PostgreSQL cannot). The SQL schema sizes its columns from these.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

#: rollout, attempt, span, trace and resources ids (the store makes ids of 19 characters)
ID_MAX_LENGTH = 64
#: worker ids (``hostname:pid:n`` by default, free text when a user names them)
WORKER_ID_MAX_LENGTH = 256

Id = Annotated[str, StringConstraints(max_length=ID_MAX_LENGTH)]
WorkerId = Annotated[str, StringConstraints(max_length=WORKER_ID_MAX_LENGTH)]
