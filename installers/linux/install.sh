#!/usr/bin/env bash
# Install Meadow for this user: the app to ~/.local/opt/meadow, a menu entry, `meadow` on the PATH
# (~/.local/bin), and with --autostart a login entry (the app's Settings can switch that later).
# Uninstall: ./install.sh --uninstall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${MEADOW_PREFIX:-$HOME/.local/opt/meadow}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
config="${XDG_CONFIG_HOME:-$HOME/.config}"
bin="$HOME/.local/bin"

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$prefix" "$data/applications/meadow.desktop" "$data/icons/hicolor/scalable/apps/meadow.svg" \
    "$config/autostart/meadow.desktop" "$bin/meadow"
  echo "Meadow removed (your data in $data/meadow stays; delete it to forget everything)."
  exit 0
fi

mkdir -p "$prefix" "$data/applications" "$data/icons/hicolor/scalable/apps" "$bin"
rm -rf "$prefix.new"
cp -a "$here/meadow" "$prefix.new"
rm -rf "$prefix" && mv "$prefix.new" "$prefix"
cp "$here/meadow.svg" "$data/icons/hicolor/scalable/apps/meadow.svg"
sed "s|@EXEC@|$prefix/meadow|" "$here/meadow.desktop" > "$data/applications/meadow.desktop"
ln -sf "$prefix/meadow" "$bin/meadow"
if [ "${1:-}" = "--autostart" ]; then
  mkdir -p "$config/autostart"
  sed "s|@EXEC@|$prefix/meadow|" "$here/meadow.desktop" > "$config/autostart/meadow.desktop"
fi
echo "Meadow installed in $prefix. Start it from your menu, or run: $bin/meadow"
