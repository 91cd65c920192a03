"""Install a wheel by unpacking it into a site dir, as an installer would for a purelib/platlib target."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import UserFacingError


def unpack_wheel(wheel: Path, site: Path) -> None:
    """Unpack into `site`, keeping executable bits (triton ships ptxas).

    `<name>.data/purelib|platlib/` go to the site root; scripts, headers and data have no use in a bundle.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                relative = _site_path(member.filename, wheel.name)
                if relative is None or member.is_dir():
                    continue
                target = site.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as handle:
                    shutil.copyfileobj(source, handle, 1 << 20)
                mode = (member.external_attr >> 16) & 0o777
                if mode & 0o111:
                    os.chmod(target, 0o755)
    except (zipfile.BadZipFile, OSError) as error:
        raise UserFacingError(f"Cannot unpack {wheel.name}: {error}. Check free disk space, then try again.") from None


def _site_path(name: str, wheel_name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or ":" in path.parts[0]:
        raise UserFacingError(f"{wheel_name} holds an unsafe path {name!r}; refusing to install it")
    if path.parts and path.parts[0].endswith(".data"):
        if len(path.parts) > 2 and path.parts[1] in ("purelib", "platlib"):
            return PurePosixPath(*path.parts[2:])
        return None
    return path
