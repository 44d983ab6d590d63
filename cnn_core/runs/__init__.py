"""Runs as jobs and what is kept of them: the request and its handle (request), the local process pool and its
worker processes (local, worker), the Ray back end (ray_executor), the choice between them (launch), the memory and
thread plan (resources), checkpoint files (checkpoint), the SQLite run registry (registry) and the model cache in
front of it (model_cache)."""
