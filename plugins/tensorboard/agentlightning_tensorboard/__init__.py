"""TensorBoard metric sink for Agent Lightning (``AGL_METRIC_SINKS=tensorboard``).

Event files are written with tensorboardX (protobuf + numpy, no TensorFlow, no TensorBoard
server); :func:`read_scalars` reads them back without TensorBoard too.
"""

from .reader import read_events, read_scalars, read_texts
from .sink import TensorBoardSink

__all__ = ["TensorBoardSink", "read_events", "read_scalars", "read_texts"]
