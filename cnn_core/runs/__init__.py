"""Runs as jobs and what is kept of them: the executor and its workers (executor, worker), the memory and thread
plan (resources), checkpoint files (checkpoint), the SQLite run registry (registry) and the model cache in front of
it (model_cache)."""
