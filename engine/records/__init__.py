"""Session records: the crash-safe session log, reading it back, the session index and re-scoring.

- :mod:`engine.records.model`: the records a log is read into;
- :mod:`engine.records.log`: the writer thread (flush and fsync in small batches);
- :mod:`engine.records.reader`: :func:`~engine.records.reader.read_log`;
- :mod:`engine.records.index`: :func:`~engine.records.index.list_sessions` (SQLite, derived from the logs);
- :mod:`engine.records.rescore`: :func:`~engine.records.rescore.rescore`;
- :mod:`engine.records.folder`: a session folder (the log, the audio played, summary.json).
"""
