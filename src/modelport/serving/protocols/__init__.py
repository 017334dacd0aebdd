"""Wire formats: pure functions from request bytes to model input and from results to bytes."""
