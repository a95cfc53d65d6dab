"""Recordings at scale (``sofp-analyze``): inputs, chunks, worker tasks, executors, reports, the run."""
