"""The torch runtime: which torch build this machine needs, fetching a CUDA build, and activating it.

The bundle ships CPU torch. A machine with an NVIDIA GPU fetches a CUDA build of the same torch version
into MEADOW_HOME/runtime/torch-<variant>/ (`meadow runtime install-cuda`); core/cli.py main() activates the
chosen build before anything imports torch (`activate.py`).
"""
