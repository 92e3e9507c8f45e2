; Inno Setup script for Crate's Windows installer.
; packaging/build.py compiles it after PyInstaller has built dist\crate:
;   iscc /DAppVersion=0.1.0 /DRoot=<checkout> /O<checkout>\dist packaging\windows\crate.iss
; It installs per user (no administrator rights needed) or for all users, with a Start-menu entry.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Root
  #define Root AddBackslash(SourcePath) + "..\.."
#endif

[Setup]
AppId={{6F1D3A52-8C4B-4E27-9B0D-2A7C5E9F4B13}
AppName=Crate
AppVersion={#AppVersion}
AppPublisher=Crate
AppComments=Music library for DJs: scan, BPM and key analysis, batch rename
DefaultDirName={autopf}\Crate
DefaultGroupName=Crate
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\dist
OutputBaseFilename=Crate-{#AppVersion}-setup
SetupIconFile={#Root}\resources\icons\crate.ico
UninstallDisplayIcon={app}\crate.exe
UninstallDisplayName=Crate
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\dist\crate\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; Files of an older version that the new one no longer ships.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\Crate"; Filename: "{app}\crate.exe"; Comment: "Music library for DJs"
Name: "{autodesktop}\Crate"; Filename: "{app}\crate.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\crate.exe"; Description: "{cm:LaunchProgram,Crate}"; Flags: nowait postinstall skipifsilent
