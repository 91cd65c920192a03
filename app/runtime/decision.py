"""Whether to offer the CUDA build of torch, from `meadow runtime status --json` and the app.cuda_offer setting.

The setting holds `ask`, `never`, or a date (YYYY-MM-DD, written by "Not now") before which the app does
not ask at start. The menu item "Use my NVIDIA GPU..." offers whatever the setting says."""
from __future__ import annotations

from datetime import date, timedelta

ASK, NEVER = "ask", "never"
SNOOZE = timedelta(days=7)  # "Not now" asks again at the first start a week later


def fetch_would_help(status: dict) -> bool:
    """A CUDA build fits this GPU and is not the one in use (not active, or active but unusable)."""
    needed = status.get("needed") or "cpu"
    return needed != "cpu" and (status.get("active") != needed or bool(status.get("problem")))


def asks_at_start(preference: str, today: date) -> bool:
    """The setting lets the app ask at start: not `never`, and no "not now" less than a week ago."""
    if preference == NEVER:
        return False
    try:
        return today >= date.fromisoformat(preference)
    except ValueError:
        return True  # `ask`, or a value we cannot read: asking is the safe side


def should_offer_at_start(status: dict, preference: str, today: date) -> bool:
    """Offer at start when a fetch would help and the setting lets the app ask."""
    return fetch_would_help(status) and asks_at_start(preference, today)


def snoozed_preference(today: date) -> str:
    """The app.cuda_offer value that "Not now" stores."""
    return (today + SNOOZE).isoformat()


def describe_offer(status: dict, runtime_dir: str) -> str:
    """The offer's text: what the CUDA build is, why it is offered, its rough size and where it goes."""
    needed, gpus = status["needed"], ", ".join(status.get("gpus") or []) or "an NVIDIA GPU"
    if status.get("active") == needed and status.get("problem"):
        why = f"The CUDA build {needed} of torch is installed but not used: {status['problem']}."
    else:
        why = (f"This computer has {gpus}, but Meadow runs on the CPU until it has the CUDA build of torch "
               f"({needed}), the GPU version of the library that runs the model.")
    return (f"{why}\n\nFetch it now? It is a download of several GB into Meadow's data folder ({runtime_dir}). "
            "Meadow keeps serving on the CPU meanwhile and restarts its node on the GPU when the build is ready.")


def describe_no_offer(status: dict) -> str:
    """What the menu item says when there is nothing to fetch."""
    if (status.get("needed") or "cpu") == "cpu":
        return f"Meadow runs on the CPU here: {status.get('reason') or 'no NVIDIA GPU was found'}."
    return f"Meadow already uses the CUDA build {status['needed']} of torch on {', '.join(status.get('gpus') or [])}."
