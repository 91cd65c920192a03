"""The one settings schema: every setting declared once with its type, default, description, label, when it
applies and whether it is an advanced one.

CLI `--set KEY=VALUE`, the node API, the app's settings dialog and tests all derive from SCHEMA.
Values come from, in order of precedence: `--set` overrides, then MEADOW_HOME/settings.json, then defaults.
The running node is the one writer of settings.json (PATCH /api/settings); every write, its or a command's,
holds the file's lock, so no change is lost.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock

from core.errors import SettingsError
from core.paths import meadow_home, write_atomically

LOCK_TIMEOUT = 10.0  # seconds a settings write waits for another writer


class Applies(StrEnum):
    """When a changed setting takes effect."""

    LIVE = "live"  # at once
    SERVER_RESTART = "server_restart"  # the node restarts its server child (serving pauses for a reload)
    NODE_RESTART = "node_restart"  # when the node starts again (the app offers to restart it)


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    description: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()  # for text settings: the only values allowed
    label: str = field(kw_only=True)  # what the settings dialog calls it
    applies: Applies = field(kw_only=True)
    advanced: bool = field(default=True, kw_only=True)  # False: among the basics a donor adjusts

    def parse(self, raw: Any) -> Any:
        """Convert a raw value (from the CLI or a JSON file) to this setting's type, or raise SettingsError."""
        try:
            value = self._convert(raw)
        except (TypeError, ValueError) as error:
            raise SettingsError(f"Setting {self.key} expects {self.type_name}, got {raw!r} ({error})") from None
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"Setting {self.key} must be at least {self.minimum}, got {value}")
        if self.choices and value not in self.choices:
            raise SettingsError(f"Setting {self.key} must be one of {', '.join(self.choices)}, got {value!r}")
        return value

    @property
    def type_name(self) -> str:
        return {bool: "true/false", int: "an integer", float: "a number", str: "text", list: "a list"}[self.type]

    def _convert(self, raw: Any) -> Any:
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
                return raw.lower() in ("true", "1", "yes", "on")
            raise ValueError("not a boolean")
        if self.type is list:
            if isinstance(raw, list):
                return [str(item) for item in raw]
            if isinstance(raw, str):
                return [item.strip() for item in raw.split(",") if item.strip()]
            raise ValueError("not a list")
        if self.type in (int, float) and isinstance(raw, bool):
            raise ValueError("not a number")
        if self.type is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError("not an integer")
        return self.type(raw)


LIVE, SERVER, NODE = Applies.LIVE, Applies.SERVER_RESTART, Applies.NODE_RESTART
SCHEMA: tuple[Setting, ...] = (
    Setting("swarm.namespace", str, "meadow", "DHT namespace of the public swarm's records.",
            label="Public swarm namespace", applies=NODE),
    Setting("swarm.allow_link_local", bool, False,
            "Accept peer addresses on link-local networks (169.254.0.0/16, fe80::/10) in invites and bootstrap lists; "
            "off because cloud metadata services live there.",
            label="Accept link-local peer addresses", applies=NODE),
    Setting("dht.wait_timeout", float, 3.0, "Seconds a DHT request waits for peers.", minimum=0.1,
            label="DHT request timeout (s)", applies=NODE),
    Setting("server.announce_period", float, 30.0, "Seconds between refreshes of the server's DHT records.",
            minimum=0.5,
            label="Announce period (s)", applies=SERVER),
    Setting("server.record_ttl", float, 90.0, "Seconds a server record lives in the DHT unless refreshed.", minimum=1.0,
            label="Record lifetime (s)", applies=SERVER),
    Setting("server.max_length", int, 8192, "Most tokens one inference session may hold on this server.", minimum=1,
            label="Most tokens per session", applies=SERVER),
    Setting("server.max_batch_size", int, 64, "Most sequences in one request.", minimum=1,
            label="Most sequences per request", applies=SERVER),
    Setting("server.max_request_tokens", int, 65536, "Most batch x tokens in one request.", minimum=1,
            label="Most tokens per request", applies=SERVER),
    Setting("server.throughput", float, 0.0,
            "Announced throughput in tokens/s per block; 0 measures it (fixed values are for tests).", minimum=0.0,
            label="Announced throughput (tokens/s per block)", applies=SERVER),
    Setting("server.vram_reserve_gb", float, 1.0,
            "GiB of GPU memory left free for the desktop when choosing how many blocks to serve.", minimum=0.0,
            label="GPU memory to keep for your own programs (GiB)", applies=SERVER, advanced=False),
    Setting("server.ram_reserve_gb", float, 2.0,
            "GiB of RAM left free when a CPU server chooses how many blocks to serve.", minimum=0.0,
            label="Memory (RAM) to keep for your own programs (GiB)", applies=SERVER, advanced=False),
    Setting("server.network_mbps", float, 0.0,
            "This server's network speed in Mbit/s; 0 estimates it from the network interfaces.", minimum=0.0,
            label="Network speed (Mbit/s)", applies=SERVER),
    Setting("server.rebalance_period", float, 150.0,
            "Mean seconds between checks whether moving this server's span would help the swarm; 0 never moves "
            "(servers started with --blocks never move).", minimum=0.0,
            label="Rebalance check period (s)", applies=SERVER),
    Setting("server.rebalance_margin", float, 0.2,
            "Move only when the swarm's bottleneck throughput would rise by more than this fraction.", minimum=0.0,
            label="Rebalance margin", applies=SERVER),
    Setting("server.drain_timeout", float, 30.0,
            "Seconds a moving or stopping server waits for open inference sessions to finish.", minimum=0.0,
            label="Drain timeout (s)", applies=SERVER),
    Setting("server.device", str, "auto",
            "Where the server's blocks run: auto uses an NVIDIA GPU when this torch build can reach one, else the "
            "CPU.", choices=("auto", "cuda", "cpu"), label="Compute device", applies=SERVER),
    Setting("server.dtype", str, "auto",
            "Number format of the served blocks: auto is bfloat16 on a GPU that supports it (float16 on older "
            "ones) and float32 on the CPU.", choices=("auto", "float32", "bfloat16", "float16"),
            label="Number format", applies=SERVER),
    Setting("server.quantization", str, "none",
            "Store the served blocks' weight matrices (a mixture's experts too) in 8 bits (int8, as LLM.int8) or 4 "
            "bits (nf4) with "
            "bitsandbytes: about a half or a quarter of the memory, so more blocks fit, for slightly less exact "
            "outputs. Needs bitsandbytes (pip install bitsandbytes).", choices=("none", "int8", "nf4"),
            label="Quantization", applies=SERVER),
    Setting("server.torch_threads", int, 0, "Torch intra-op threads for the server; 0 keeps torch's default.",
            minimum=0,
            label="Torch threads", applies=SERVER),
    Setting("server.ready_check_timeout", float, 20.0,
            "Seconds to wait until a fresh client can read the server's record before giving up.", minimum=1.0,
            label="Ready check timeout (s)", applies=SERVER),
    Setting("server.session_timeout", float, 1800.0, "Seconds an inference session may stay open.", minimum=1.0,
            label="Session lifetime (s)", applies=SERVER),
    Setting("server.step_timeout", float, 300.0, "Seconds the server waits for a session's next step.", minimum=0.1,
            label="Step timeout (s)", applies=SERVER),
    Setting("server.public_name", str, "", "A name shown next to this server in swarm listings.",
            label="Public name of this server", applies=SERVER),
    Setting("server.cache_tokens", int, 0,
            "Tokens of attention cache each served block may hold across all sessions; 0 derives it from free "
            "memory after loading the blocks.", minimum=0,
            label="Attention cache per block (tokens)", applies=SERVER),
    Setting("server.max_alloc_timeout", float, 10.0,
            "Most seconds a new session may wait for cache room (clients ask with alloc_timeout; default 0).",
            minimum=0.0, label="Most wait for cache room (s)", applies=SERVER),
    Setting("server.idle_session_timeout", float, 300.0,
            "Seconds without a step after which a session is closed and its cache freed.", minimum=0.1,
            label="Idle session timeout (s)", applies=SERVER),
    Setting("server.prefill_chunk_tokens", int, 2048,
            "Prefills longer than this are computed in chunks of this many tokens so that other sessions' steps "
            "interleave (chunked results differ from one-shot ones in float rounding).", minimum=1,
            label="Prefill chunk (tokens)", applies=SERVER),
    Setting("server.step_delay", float, 0.0, "Seconds added to every inference step (for tests).", minimum=0.0,
            label="Added step delay (s)", applies=SERVER),
    Setting("client.route_timeout", float, 60.0,
            "Seconds to wait for servers that cover every block before reporting the missing ones.", minimum=0.0,
            label="Route timeout (s)", applies=NODE),
    Setting("client.request_timeout", float, 60.0, "Seconds to wait for one server step.", minimum=0.1,
            label="Step request timeout (s)", applies=NODE),
    Setting("client.connect_timeout", float, 10.0, "Seconds to wait for the DHT to start and bootstrap.", minimum=0.1,
            label="DHT connect timeout (s)", applies=NODE),
    Setting("client.max_retries", int, 8,
            "Replacement attempts per failed server before a session gives up.", minimum=0,
            label="Retries per failed server", applies=NODE),
    Setting("client.ban_seconds", float, 15.0,
            "Seconds a failed server is avoided (doubled on each repeat).", minimum=0.0,
            label="Failed server ban (s)", applies=NODE),
    Setting("client.hang_factor", float, 5.0,
            "A server is hung when a one-token step takes this many times its recent step time (at least 1 s).",
            minimum=1.0, label="Hang factor", applies=NODE),
    Setting("client.busy_ban_seconds", float, 2.0,
            "Seconds a server that answered busy (full cache or queue) is routed around.", minimum=0.0,
            label="Busy server ban (s)", applies=NODE),
    Setting("client.refresh_period", float, 60.0,
            "Seconds between refreshes of the swarm's server records while no session is open.", minimum=0.5,
            label="Swarm refresh period, idle (s)", applies=NODE),
    Setting("client.active_refresh_period", float, 10.0,
            "Seconds between refreshes of the swarm's server records while a session is open.", minimum=0.5,
            label="Swarm refresh period, in a session (s)", applies=NODE),
    Setting("client.ping_timeout", float, 2.0,
            "Seconds to wait for a server's answer to a latency ping before routing around it.", minimum=0.1,
            label="Ping timeout (s)", applies=NODE),
    Setting("client.alloc_timeout", float, 0.0,
            "Seconds a server with a full attention cache may keep a new session waiting for room (capped by its "
            "server.max_alloc_timeout); 0 routes around a full server at once.", minimum=0.0,
            label="Wait for cache room (s)", applies=NODE),
    Setting("client.prefer_full_precision", bool, False,
            "Route through float32, unquantized servers where the swarm has them, and through the most precise "
            "others where it does not (routes may then be slower).",
            label="Prefer full-precision servers", applies=NODE),
    Setting("log.level", str, "INFO", "Log level of the log file (DEBUG, INFO, WARNING, ERROR).",
            label="Log level", applies=NODE),
    Setting("node.model", str, "smollm2-135m-instruct", "Model the node's server serves when donating.",
            label="Model this computer serves", applies=SERVER, advanced=False),
    Setting("node.num_blocks", int, 0, "Blocks the node's server serves; 0 serves as many as fit.", minimum=0,
            label="Blocks to serve (0: as many as fit)", applies=SERVER),
    Setting("node.api_port", int, 7865, "TCP port of the node's local API on 127.0.0.1 (0 picks a free one).",
            minimum=0, label="Local API port", applies=NODE),
    Setting("node.max_sessions", int, 8,
            "Conversations whose swarm session (and servers' KV cache) the node keeps open between requests.",
            minimum=0, label="Conversations kept open", applies=LIVE),
    Setting("node.session_idle_timeout", float, 600.0,
            "Seconds an unused conversation session stays open before it is closed.", minimum=1.0,
            label="Idle conversation timeout (s)", applies=LIVE),
    Setting("node.session_tokens", int, 4096,
            "Tokens a new conversation session reserves on the servers (more when one request needs it).",
            minimum=16, label="Tokens reserved per conversation", applies=LIVE),
    Setting("node.default_max_tokens", int, 512, "Tokens generated when a request names no max_tokens.", minimum=1,
            label="Default answer length (tokens)", applies=LIVE),
    Setting("node.route_wait", float, 30.0,
            "Seconds an API request waits for servers of every block before answering 503.", minimum=0.0,
            label="Wait for the model's servers (s)", applies=NODE),
    Setting("node.restart_backoff_max", float, 60.0,
            "Most seconds between restarts of a crashed server child (the delay doubles from 1 s).", minimum=0.1,
            label="Most delay between server restarts (s)", applies=LIVE),
    Setting("node.pause_stop_timeout", float, 4.0,
            "Seconds a pausing server child gets to announce itself offline before it is killed.", minimum=0.1,
            label="Pause stop timeout (s)", applies=LIVE),
    Setting("pause.enabled", bool, True,
            "Pause serving automatically while a game, a fullscreen app or another pause signal is active.",
            label="Pause automatically (games, fullscreen, battery...)", applies=LIVE, advanced=False),
    Setting("pause.exclusive_apps", list, [],
            "Programs that pause serving while they run, by executable name (e.g. blender, Cyberpunk2077.exe).",
            label="Programs that pause serving", applies=LIVE, advanced=False),
    Setting("pause.resume_after_s", float, 120.0,
            "Seconds every pause signal must stay clear before serving resumes.", minimum=0.0,
            label="Resume after the pause reason is gone for (s)", applies=LIVE, advanced=False),
    Setting("pause.on_battery", bool, True, "Pause serving while the computer runs on battery.",
            label="Pause on battery", applies=LIVE, advanced=False),
    Setting("pause.fullscreen", bool, True,
            "Pause serving while the foreground window is fullscreen (games, but also videos).",
            label="Pause while a fullscreen window is in front", applies=LIVE, advanced=False),
    Setting("pause.gpu_busy_percent", float, 30.0,
            "Pause when another program draws on the GPU with at least this share of its compute (when the driver "
            "reports per-program load; otherwise any such program pauses).", minimum=0.0,
            label="Pause when another program uses the GPU (%)", applies=LIVE),
    Setting("pause.idle_only", bool, False, "Serve only while nobody uses the computer (no keyboard or mouse input).",
            label="Serve only while nobody uses the computer", applies=LIVE, advanced=False),
    Setting("pause.idle_seconds", float, 300.0,
            "Seconds without keyboard or mouse input after which the computer counts as idle.", minimum=1.0,
            label="Idle after (s)", applies=LIVE),
    Setting("pause.poll_seconds", float, 2.0, "Seconds between checks of the pause signals.", minimum=0.1,
            label="Pause check period (s)", applies=LIVE),
    Setting("app.start_at_login", bool, False, "Start the Meadow app (in the tray) when you log in.",
            label="Start Meadow when you log in", applies=LIVE, advanced=False),
    Setting("app.swarm", str, "",
            "Private swarm the app's node runs in (set when you join or create one; the app then restarts its node in "
            "it); empty: the public swarm.",
            label="Swarm", applies=NODE, advanced=False),
    Setting("runtime.torch_index_url", str, "https://download.pytorch.org/whl/{variant}",
            "PEP 503 package index that `meadow runtime install-cuda` fetches the CUDA build of torch from; "
            "{variant} stands for the build's name (cu128, ...).", label="CUDA torch package index", applies=LIVE),
    Setting("runtime.download_timeout", float, 60.0,
            "Seconds a torch download may wait to connect or for more data before it fails.", minimum=1.0,
            label="Download timeout (s)", applies=LIVE),
    Setting("app.cuda_offer", str, "ask",
            "Whether the app offers at start to fetch the CUDA build of torch for an NVIDIA GPU: ask, never, or a "
            "date (YYYY-MM-DD, set by “Not now”) before which it does not ask. “Use my NVIDIA GPU...” always offers.",
            label="Offer the CUDA build of torch", applies=LIVE),
)

_BY_KEY = {setting.key: setting for setting in SCHEMA}
_DEFAULTS = {setting.key: setting.default for setting in SCHEMA}


def settings_path() -> Path:
    return meadow_home() / "settings.json"


class Settings:
    """Resolved values of every setting for one run."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    @classmethod
    def load(cls, overrides: list[str] | None = None, path: Path | None = None) -> Settings:
        """Defaults, then the settings file, then `KEY=VALUE` overrides; raises SettingsError on bad input."""
        values = {**_DEFAULTS, **_read_file(path or settings_path())}
        for item in overrides or []:
            key, separator, raw = item.partition("=")
            if not separator:
                raise SettingsError(f"--set expects KEY=VALUE, got {item!r}")
            values[key.strip()] = lookup(key.strip()).parse(raw.strip())
        return cls(values)

    def __getitem__(self, key: str) -> Any:
        lookup(key)
        return self._values[key]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def save(self, path: Path | None = None) -> None:
        """Write the values that differ from their defaults."""
        changed = {key: value for key, value in self._values.items() if _BY_KEY[key].default != value}
        write_atomically(path or settings_path(), json.dumps(changed, indent=2, sort_keys=True).encode())


def lookup(key: str) -> Setting:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise SettingsError(f"Unknown setting {key!r}; `meadow --help` lists commands, settings are: "
                            + ", ".join(sorted(_BY_KEY))) from None


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"Cannot read settings file {path}: {error}. Fix or delete it.") from None
    if not isinstance(data, dict):
        raise SettingsError(f"Settings file {path} must hold a JSON object. Fix or delete it.")
    return {key: lookup(key).parse(value) for key, value in data.items()}


def update_settings_file(changes: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Validate `changes` (all or nothing), merge them into the settings file under its lock and return the parsed
    changes. The running node is the one caller while it runs (PATCH /api/settings).

    A value equal to the default removes the key from the file. Raises SettingsError on an unknown key, a
    bad value, an unreadable file or a lock held too long; the file is then left as it was."""
    path = path or settings_path()
    parsed = {key: lookup(key).parse(value) for key, value in changes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT):
            Settings({**_DEFAULTS, **_read_file(path), **parsed}).save(path)
    except TimeoutError:
        raise SettingsError(f"Another program has held {path}.lock for {LOCK_TIMEOUT:.0f} s; try again") from None
    return parsed
