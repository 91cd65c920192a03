# Installs the Meadow node (the Linux bundle) into the default WSL2 distribution, per user.
# Called by the installer; safe to run again. Exit codes: 0 done, 2 WSL2 missing, 3 install failed.
param([Parameter(Mandatory = $true)][string]$Tarball)
$ErrorActionPreference = "Stop"

$status = & wsl.exe --status 2>&1
if ($LASTEXITCODE -ne 0) {
    Write-Host "WSL2 is not installed. Run 'wsl --install' as administrator, restart, and run the installer again."
    exit 2
}
$distros = (& wsl.exe --list --quiet) -replace "`0", "" | Where-Object { $_.Trim() -ne "" }
if (-not $distros) {
    Write-Host "WSL2 has no Linux distribution yet. Run 'wsl --install -d Ubuntu', finish its setup, then run the installer again."
    exit 2
}
# The tarball path as WSL sees it (C:\... -> /mnt/c/...).
$linuxPath = (& wsl.exe wslpath -a ($Tarball -replace "\\", "/")).Trim()
$script = @"
set -e
stage=`$(mktemp -d)
tar -xzf '$linuxPath' -C "`$stage"
"`$stage"/meadow-*/install.sh
rm -rf "`$stage"
"@
& wsl.exe -- bash -c $script
if ($LASTEXITCODE -ne 0) {
    Write-Host "Installing the Meadow node in WSL2 failed (exit $LASTEXITCODE)."
    exit 3
}
Write-Host "The Meadow node is installed in WSL2."
exit 0
