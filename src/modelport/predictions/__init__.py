"""The prediction log and ground-truth feedback: what the model saw, said, and what was true."""

from modelport.predictions.feedback import FeedbackResult, FeedbackStore
from modelport.predictions.ids import new_prediction_ids
from modelport.predictions.writer import LoggedBatch, PredictionLogWriter

__all__ = [
    "FeedbackResult",
    "FeedbackStore",
    "LoggedBatch",
    "PredictionLogWriter",
    "new_prediction_ids",
]
