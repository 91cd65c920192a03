#!/usr/bin/env bash
# macOS: wrap the PyInstaller bundle into Meadow.app and a compressed disk image, dist/Meadow-<version>.dmg.
# Run on a Mac after `make bundle` (PyInstaller builds for the OS it runs on). Needs only hdiutil and
# codesign, both part of macOS. Signing: set CODESIGN_IDENTITY to a "Developer ID Application" identity.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "make-dmg.sh runs on macOS only" >&2; exit 1; }
[ -x dist/meadow/meadow ] || { echo "dist/meadow/meadow is missing: run \`make bundle\` first" >&2; exit 1; }
version=$(dist/meadow/meadow --version | awk '{print $2}')
app=dist/Meadow.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp -a dist/meadow/. "$app/Contents/MacOS/"
cp resources/icons/meadow.svg "$app/Contents/Resources/"
cat > "$app/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>Meadow</string>
  <key>CFBundleIdentifier</key><string>org.meadow.app</string>
  <key>CFBundleVersion</key><string>${version}</string>
  <key>CFBundleShortVersionString</key><string>${version}</string>
  <key>CFBundleExecutable</key><string>meadow</string>
  <key>LSUIElement</key><true/>
  <key>LSMinimumSystemVersion</key><string>12.0</string>
</dict></plist>
PLIST
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --sign "$CODESIGN_IDENTITY" "$app"
fi
rm -f "dist/Meadow-${version}.dmg"
hdiutil create -volname Meadow -srcfolder "$app" -ov -format UDZO "dist/Meadow-${version}.dmg"
echo "dist/Meadow-${version}.dmg"
