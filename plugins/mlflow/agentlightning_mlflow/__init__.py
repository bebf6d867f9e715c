"""MLflow metric sink for Agent Lightning (``AGL_METRIC_SINKS=mlflow``)."""

from .sink import MLflowSink

__all__ = ["MLflowSink"]
