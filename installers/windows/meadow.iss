; Inno Setup script: Meadow for Windows. The desktop app runs natively (a PyInstaller bundle built on
; Windows with `make bundle`, in dist\meadow); the node runs in WSL2, because hivemind's p2pd has no
; Windows build. The installer checks for WSL2 and installs the Linux bundle into the default
; distribution (setup-wsl.ps1), or explains what is missing.
; Build on Windows: iscc /DLinuxTarball=..\..\dist\meadow-0.1.0-linux-x86_64.tar.gz installers\windows\meadow.iss

#define AppVersion "0.1.0"
#ifndef LinuxTarball
  #define LinuxTarball "..\..\dist\meadow-" + AppVersion + "-linux-x86_64.tar.gz"
#endif

[Setup]
AppId={{6E2B7C1A-6B53-4E58-9B7B-3F1C5D0A7E11}
AppName=Meadow
AppVersion={#AppVersion}
AppPublisher=Meadow
DefaultDirName={localappdata}\Programs\Meadow
DefaultGroupName=Meadow
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=Meadow-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
ArchitecturesAllowed=x64compatible
WizardStyle=modern

[Files]
Source: "..\..\dist\meadow\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion
Source: "{#LinuxTarball}"; DestDir: "{app}\wsl"; DestName: "meadow-linux.tar.gz"; Flags: ignoreversion
Source: "setup-wsl.ps1"; DestDir: "{app}\wsl"; Flags: ignoreversion

[Icons]
Name: "{group}\Meadow"; Filename: "{app}\meadow.exe"; Parameters: "app"
Name: "{userstartup}\Meadow"; Filename: "{app}\meadow.exe"; Parameters: "app"; Tasks: autostart

[Tasks]
Name: "autostart"; Description: "Start Meadow when I sign in (it pauses by itself while you play)"; Flags: unchecked

[Run]
Filename: "powershell.exe"; \
  Parameters: "-NoProfile -ExecutionPolicy Bypass -File ""{app}\wsl\setup-wsl.ps1"" -Tarball ""{app}\wsl\meadow-linux.tar.gz"""; \
  StatusMsg: "Setting up the Meadow node in WSL2..."; Flags: waituntilterminated
Filename: "{app}\meadow.exe"; Parameters: "app"; Description: "Start Meadow now"; Flags: postinstall nowait skipifsilent

[Code]
function WslInstalled(): Boolean;
var
  ResultCode: Integer;
begin
  Result := Exec(ExpandConstant('{sys}\wsl.exe'), '--status', '', SW_HIDE, ewWaitUntilTerminated, ResultCode)
            and (ResultCode = 0);
end;

function InitializeSetup(): Boolean;
begin
  Result := True;
  if not WslInstalled() then
  begin
    MsgBox('Meadow runs its swarm node inside WSL2 (Windows Subsystem for Linux), which is not set up on ' +
           'this PC.' + #13#10 + #13#10 + 'Open PowerShell as administrator, run:' + #13#10 +
           '    wsl --install' + #13#10 + 'restart Windows, then run this installer again.' + #13#10 + #13#10 +
           'Meadow will install now, but it can only chat and donate once WSL2 is there.', mbInformation, MB_OK);
  end;
end;
