"""Meadow's desktop app: a PySide6 tray, dashboard, chat window and dialogs.

The app is a thin client of the local node's HTTP API (core/node): it never imports torch or hivemind,
and it starts and supervises the node as a child process through core.launcher.
"""
