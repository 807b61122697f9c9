"""HTTP service that serves the champion model: health, readiness, predictions, metrics."""
