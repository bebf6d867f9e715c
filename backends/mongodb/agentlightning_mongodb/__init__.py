"""Agent Lightning store on MongoDB through motor.

Importing this package is cheap; motor is imported by :mod:`agentlightning_mongodb.store`,
which the plugin's factory loads on first use.
"""

__all__ = ["MongoStore"]


def __getattr__(name: str) -> object:
    if name == "MongoStore":
        from .store import MongoStore

        return MongoStore
    raise AttributeError(name)
