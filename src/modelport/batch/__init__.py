"""Batch scoring: a registered model over Parquet, CSV or JSON Lines files, locally or on Spark.

>>> from modelport.batch import score
>>> score("credit-risk@production", "applications.parquet", "scores.parquet")  # doctest: +SKIP
"""

from modelport.batch.job import BatchSummary, score

__all__ = ["BatchSummary", "score"]
