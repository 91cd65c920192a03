"""The block server: loads a span of blocks, executes steps with per-session KV caches, announces itself."""
