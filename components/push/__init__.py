"""Push: the generator pusher (`component`), the TF Serving folder it writes, and the settings."""
