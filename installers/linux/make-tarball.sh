#!/usr/bin/env bash
# Turn the PyInstaller bundle (dist/meadow, from `make bundle`) into dist/meadow-<version>-linux-<arch>.tar.gz:
# the bundle, a .desktop entry, the icon, and install.sh (per-user install, no root needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x dist/meadow/meadow ] || { echo "dist/meadow/meadow is missing: run \`make bundle\` first" >&2; exit 1; }
version=$(dist/meadow/meadow --version 2>/dev/null | awk '{print $2}' || python3 -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
name="meadow-${version}-linux-$(uname -m)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
mkdir -p "$stage/$name/meadow"
cp -a dist/meadow/. "$stage/$name/meadow/"
cp installers/linux/meadow.desktop installers/linux/install.sh resources/icons/meadow.svg "$stage/$name/"
chmod +x "$stage/$name/install.sh"
tar -C "$stage" -czf "dist/$name.tar.gz" "$name"
echo "dist/$name.tar.gz"
