"""The ``tandem`` command's exit codes."""

EXIT_ERROR = 2  # a therapist's error or a missing device: one sentence on stderr
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE): one sentence, with TANDEM_DEBUG=1 a traceback
EXIT_INTERRUPTED = 130  # stopped by the therapist or Ctrl-C; everything recorded is kept
