"""HTTP APIs: the native v1 API and the MLflow REST adapter."""
