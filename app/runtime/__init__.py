"""The torch build the app's node runs: offering the CUDA build on an NVIDIA GPU, and fetching it with progress.

The work happens in `meadow runtime ...` children (core/runtime); the app only reads their JSON events."""
