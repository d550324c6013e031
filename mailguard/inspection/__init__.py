"""One inspection path for every command: the pipeline, its context, the worker pool
and the DNS answers recipient rules need."""
