"""Secrets inside resources, encrypted at rest with ``AGL_ENCRYPTION_KEY`` (Fernet).

Which fields are secret is read from the resource models themselves: any field whose
``json_schema_extra`` says ``secret=True`` (an ``LLM``'s ``api_key`` today). Each such value is
replaced in the stored JSON by ``{"$agl_secret": "<Fernet token>"}`` and restored on read, so
the table never holds the plaintext. With no key set, storing a secret fails instead of
silently writing it in the clear.

``AGL_ENCRYPTION_KEY`` may list several keys separated by commas to rotate: the first encrypts,
every one is tried to decrypt.
"""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from agentlightning_core.errors import AglError, InvalidRequestError

MARK = "$agl_secret"

GENERATE_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class SecretKeyMissingError(InvalidRequestError):
    """A resource holds a secret and the store has no key to encrypt it with."""


class SecretDecryptionError(AglError):
    """A stored secret cannot be decrypted with the configured key(s)."""


class SecretBox:
    """Encrypts and decrypts secret values; ``key`` ``None`` means "no key configured"."""

    def __init__(self, key: str | None) -> None:
        self._fernet: MultiFernet | None = None
        if key:
            try:
                self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in key.split(",") if k.strip()])
            except (ValueError, TypeError) as exc:
                raise InvalidRequestError(
                    f"AGL_ENCRYPTION_KEY is not a valid Fernet key ({exc}); {GENERATE_HINT}"
                ) from None

    @property
    def has_key(self) -> bool:
        return self._fernet is not None

    def seal(self, value: Any, where: str) -> dict[str, str]:
        if self._fernet is None:
            raise SecretKeyMissingError(
                f"{where} is a secret and AGL_ENCRYPTION_KEY is not set, so it cannot be stored "
                f"encrypted; set AGL_ENCRYPTION_KEY on the store's process ({GENERATE_HINT}), or "
                "publish the resource without the secret"
            )
        return {MARK: self._fernet.encrypt(orjson.dumps(value)).decode()}

    def unseal(self, token: str) -> Any:
        if self._fernet is None:
            raise SecretDecryptionError(
                "the store holds encrypted secrets but AGL_ENCRYPTION_KEY is not set; "
                "set it to the key they were stored with"
            )
        try:
            return orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with AGL_ENCRYPTION_KEY; if the key was rotated, "
                "list the old key after the new one (AGL_ENCRYPTION_KEY=new,old)"
            ) from None


def _is_secret(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("secret") is True


def seal_model(model: BaseModel, box: SecretBox, where: str) -> dict[str, Any]:
    """``model`` as JSON-ready data with every secret field (nested models too) encrypted."""
    data: dict[str, Any] = model.model_dump(mode="json")
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        key = info.serialization_alias or info.alias or name
        if key not in data:
            continue
        if _is_secret(info):
            if data[key] is not None:
                data[key] = box.seal(data[key], f"{where} field {name!r}")
        elif isinstance(value, BaseModel):
            data[key] = seal_model(value, box, f"{where}.{name}")
    return data


def unseal(data: Any, box: SecretBox) -> Any:
    """Replace every ``{"$agl_secret": token}`` in ``data`` by its plaintext value."""
    if isinstance(data, dict):
        if len(data) == 1 and MARK in data and isinstance(data[MARK], str):
            return box.unseal(data[MARK])
        return {k: unseal(v, box) for k, v in data.items()}
    if isinstance(data, list):
        return [unseal(v, box) for v in data]
    return data
