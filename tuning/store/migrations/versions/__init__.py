"""One file per schema revision, oldest first; revision ``0001`` is the schema of release 0.1.0."""
