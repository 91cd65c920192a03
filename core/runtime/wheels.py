"""Wheels on an index: which file fits this interpreter, and what a wheel's metadata requires.

A wheel fits when one of its tags is among `packaging.tags.sys_tags()` (cp312, manylinux_2_28_x86_64,
win_amd64, macosx_...); among fitting files the newest version wins, then the most specific tag.
"""
from __future__ import annotations

import logging
import sys
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from functools import cache
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from core.errors import UserFacingError
from core.runtime.index import FileLink

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wheel:
    """A fitting wheel chosen for a requirement."""

    project: str
    version: Version
    link: FileLink


@cache
def _tag_ranks() -> dict[Tag, int]:
    return {tag: rank for rank, tag in enumerate(sys_tags())}  # most specific first


def best_wheel(links: list[FileLink], requirement: Requirement) -> Wheel | None:
    """The newest wheel of the requirement's project that fits this interpreter and its version specifier."""
    ranks = _tag_ranks()
    python = ".".join(str(part) for part in sys.version_info[:3])
    best: tuple[Version, int, Wheel] | None = None
    for link in links:
        if not link.filename.endswith(".whl") or link.yanked:
            continue
        try:
            name, version, _, tags = parse_wheel_filename(link.filename)
        except InvalidWheelFilename:
            continue
        if name != canonicalize_name(requirement.name) or not requirement.specifier.contains(version, prereleases=True):
            continue
        if link.requires_python and not SpecifierSet(link.requires_python).contains(python, prereleases=True):
            continue
        rank = min((ranks[tag] for tag in tags if tag in ranks), default=None)
        if rank is not None and (best is None or (version, -rank) > best[:2]):
            best = (version, -rank, Wheel(name, version, link))
    return best[2] if best else None


def requirements_of(metadata: str, source: str) -> list[Requirement]:
    """Requires-Dist entries whose markers hold here, for no extras."""
    message = HeaderParser().parsestr(metadata)
    needed: list[Requirement] = []
    for line in message.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise UserFacingError(f"{source} declares an unreadable requirement {line!r}: {error}") from None
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            needed.append(requirement)
    return needed


def wheel_metadata(path: Path) -> str:
    """The METADATA file inside a downloaded wheel."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist()
                     if name.count("/") == 1 and name.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise UserFacingError(f"{path.name} is not a valid wheel: it has no single *.dist-info/METADATA")
            return archive.read(names[0]).decode("utf-8", errors="replace")
    except zipfile.BadZipFile as error:
        raise UserFacingError(f"{path.name} is not a valid wheel ({error}). Try again.") from None
