"""Audio: the stream and its backends, the mixer/scheduler, the sound bank."""
