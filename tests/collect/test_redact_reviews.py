"""collect.redact: benign command lines left alone, the second review's forms redacted exactly, and
hostile input handled in linear time without ever raising (test_redact.py has the first forms)."""

from __future__ import annotations

import pytest
from hostile_lines import HOSTILE_UNITS, fill
from hypothesis import given, settings
from hypothesis import strategies as st

from auditplan.collect.redact import redact
from auditplan.records import REDACTED

BENIGN: list[str] = [
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
    "C:\\Windows\\system32\\svchost.exe -k LocalServiceNetworkRestricted -p",
    "python.exe -m http.server -p 8080",
    "ssh.exe -l admin -p 2222 host",
    "docker run -u 1000 -p 8080:80 nginx",
    "mkdir -p C:\\build\\out",
    "ping -n 4 8.8.8.8",
    "ping -n 4 -w 1000 host",
    'git -c user.name=x -c user.email=x@example.com commit -m "fix"',
    '"C:\\Program Files\\Git\\cmd\\git.exe" -c credential.helper=manager fetch',
    "git config --global credential.helper store",
    "net use z: \\\\srv\\share /persistent:yes",
    "net use \\\\srv\\IPC$ /user:CORP\\alice",
    "net use \\\\srv\\share /user:CORP\\alice *",
    'net use \\\\srv\\IPC$ "" /user:guest',
    "net use z: /delete",
    "net use * /delete /y",
    "net use",
    "net user bob /add",
    "net user bob * /add",
    "net user",
    "net user bob /domain",
    "net user bob /active:yes /passwordreq:yes /passwordchg:no",
    "net localgroup administrators bob /add",
    "net accounts /uniquepw:5 /maxpwage:90 /minpwlen:14",
    "net user bob %NEWPW% /add",
    "powershell -NoProfile -File x.ps1",
    "powershell.exe -NoProfile -ExecutionPolicy Bypass -WindowStyle Hidden -File C:\\x.ps1",
    "powershell New-LocalUser -Name bob -Password $securePw",
    "powershell -c ConvertTo-SecureString $plain -AsPlainText -Force",
    "powershell -c $s = $env:PW | ConvertTo-SecureString -AsPlainText -Force",
    "powershell -c ConvertTo-SecureString $blob -Key $key",
    "powershell -c $s = Read-Host -AsSecureString",
    "powershell Set-ADAccountPassword -Identity bob -Reset -NewPassword (Read-Host -AsSecureString)",
    "powershell Get-ADUser bob -Properties PasswordLastSet,PasswordNeverExpires",
    "powershell New-LocalUser -Name bob -NoPassword",
    'powershell iwr https://x -Headers @{Authorization="Bearer $token"}',
    "runas /user:CORP\\adm cmd.exe",
    'runas /savecred /user:adm "cmd /c whoami"',
    "tasklist /svc",
    "taskkill /f /pid 1234",
    "netstat -ano -p tcp",
    "xcopy /s /e /p src dst",
    "msiexec /p patch.msp /qn",
    "msbuild app.sln /p:Configuration=Release /p:Platform=x64",
    "openssl pkcs12 -in c.pfx -passin env:PFXPW -nokeys",
    "openssl rsa -in k.pem -passin file:pw.txt -passout stdin",
    "docker login --password-stdin -u ci registry.example.com",
    "tool.exe --token-file C:\\secrets\\t.txt --password-file pw.txt",
    "mysql -u root -p mydb",
    "mysql -h db -P 3306 -u root -p",
    "scp -P 2222 f.txt u@host:/tmp",
    "7z a -mx9 x.7z folder",
    "curl.exe -u alice https://x",
    "curl -p -x http://proxy:3128 https://x",
    "git clone https://github.com/org/repo.git",
    "aws s3 cp s3://bucket/4b825dc642cb6eb9a060e54bf8d69288fbee4904 .",
    "aws sts get-caller-identity --profile prod",
    "cmd.exe /c echo token",
    'findstr /s /i "password=" *.config',
    'reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v x /t REG_SZ /d "C:\\x.exe" /f',
    "wevtutil qe Security /c:10 /rd:true /f:xml",
    "C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
    "ftp -s:script.txt host",
    "schtasks /run /tn \\Microsoft\\Windows\\Defrag\\ScheduledDefrag",
    "schtasks /create /tn t /tr calc /sc daily /RU SYSTEM /RP /F",
    "certutil -hashfile x.exe SHA256",
    "certutil -urlcache -split -f http://x/a.exe a.exe",
    "node app.js --port 3000",
    "java -Dlog.level=debug -jar x.jar",
    "dotnet user-secrets list",
    "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\ngen.exe install x",
    'sqlcmd -S db -E -Q "select 1"',
    "signtool verify /pa x.exe",
    "git clone git@github.com:org/repo.git",
    "scp user@host:/path/f.txt .",
    "ssh -L 8080:localhost:80 user@host",
    "docker run -v C:\\data:/data img",
    "powershell Set-ItemProperty -Path HKCU:\\x -Name Shell -Value explorer.exe",
    "reg add HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon /v AutoAdminLogon /t REG_SZ /d 1 /f",
    "reg query HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon /v DefaultPassword",
    'wevtutil qe Security /q:"*[System[(EventID=4688)]]" /c:5',
    "powershell -c $token = Get-Token",
    "gh auth login --with-token --hostname x",
    # PowerShell expands $env:GH_TOKEN before tool.exe starts; without the host on the line `$` is
    # literal and is redacted (see SECOND_REVIEW_FOUND).
    "powershell -c tool.exe --token $env:GH_TOKEN",
    "powershell Connect-X -Token (Get-Secret x)",
    'setx PATH "%PATH%;C:\\tools"',
    "ssh -i key.pem user@host",
    "icacls C:\\x /grant Users:F",
    "findstr /p needle file.txt",
    "more /p file.txt",
    "robocopy src dst /mir /r:1 /w:1",
    "netsh advfirewall firewall add rule name=x dir=in action=allow protocol=TCP localport=80",
    "netsh wlan show profile name=x key=clear",
    "cmdkey /list",
    'cmd /c "net use z: \\\\srv\\share"',
    "dotnet build -p:Configuration=Release",
    "python -c \"import os; print(os.environ['TOKEN'])\"",
    # Third review: a -u attached to ser/sername/serid is a switch name, not curl's -uuser:pass; the
    # account must stay readable.
    "wbadmin start backup -backupTarget:E: -user:corp\\bob -quiet",
    "someagent.exe -username:bob",
    "tool.exe -userid:bob",
    "tool.exe -UserName=corp\\bob -Verbose",
    'netsh wlan show profile name="Corp Wifi" key=clear',
    "netsh wlan set hostednetwork mode=allow ssid=Corp keyUsage=persistent",
    "certbot certonly --authenticator standalone -d example.com",
    'vaultcmd /listcreds:"Windows Credentials" /all',
    "powershell Set-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon' 'AutoAdminLogon' '1'",
    "powershell Set-ItemProperty -Value 'explorer.exe' -Name Shell -Path $wl",
    "powershell Set-ItemProperty -Path $wl -Name DefaultPassword -Value $pw",
    "az keyvault secret show --vault-name kv01 --name DbPassword --query value -o tsv",
    "az keyvault secret set --vault-name kv01 --name DbPassword --file secret.txt",
    "powershell -c \"[Environment]::SetEnvironmentVariable('API_TOKEN', $tok, 'User')\"",
    "powershell -c \"[Environment]::SetEnvironmentVariable('JAVA_HOME', 'C:\\jdk', 'Machine')\"",
    'setx /M JAVA_HOME "C:\\Program Files\\Java\\jdk"',
    "manage-bde -protectors -add C: -rp",
    "manage-bde -status C:",
    "nuget push pkg.nupkg -Source https://x/v3",
    "vault login -method=oidc",
    "vault status",
    'ldifde -f out.ldf -s dc01 -d "dc=corp,dc=local"',
    "csvde -f out.csv -b admin corp.local *",
    "bitsadmin /transfer job /download /priority normal https://x/f.zip C:\\f.zip",
    "pspasswd \\\\host localadmin",
    "installer.exe /quiet OLDPWD=C:\\app INSTALLDIR=C:\\app",
    "reg add HKLM\\Software\\Vendor\\Autologon /v User /t REG_SZ /d bob /f",
    "docker run --name token-svc -e X=1 img",
    "powershell Set-ItemProperty -Path $wl -Name DefaultUserName -Value bob",
    "vault login -method userpass username=bob",
]


@pytest.mark.parametrize("line", BENIGN)
def test_benign_command_lines_are_left_alone(line: str) -> None:
    assert redact(line) == (line, 0)


def test_numbers_are_ports_only_after_a_short_p() -> None:
    """The number exemption is scoped to `-p` (ports, PIDs): a numeric net user password is redacted."""
    assert redact("net user bob 12345678 /add") == (f"net user bob {REDACTED} /add", 1)
    assert redact("PsExec.exe -u adm -p 445 cmd") == ("PsExec.exe -u adm -p 445 cmd", 0)
    assert redact("PsExec.exe -u adm -p 445x cmd") == (f"PsExec.exe -u adm -p {REDACTED} cmd", 1)


def test_odbc_braces_and_doubled_quotes_are_redacted_whole() -> None:
    assert redact("x.exe Pwd={ab;cd};Uid=sa") == (f"x.exe Pwd={{{REDACTED}}};Uid=sa", 1)
    assert redact("New-LocalUser b -Password 'it''s' -X") == (f"New-LocalUser b -Password '{REDACTED}' -X", 1)


def test_a_switch_is_not_taken_as_the_value_of_the_one_before() -> None:
    line = "tool.exe --verbose --password Later1 --token -x --api-key K2"
    assert redact(line) == (f"tool.exe --verbose --password {REDACTED} --token -x --api-key {REDACTED}", 2)


def test_piped_and_positional_convertto_securestring() -> None:
    assert redact("'a''b' | ConvertTo-SecureString -AsPlainText") == (
        f"'{REDACTED}' | ConvertTo-SecureString -AsPlainText",
        1,
    )
    # without -AsPlainText the argument is an encrypted standard string, not plain text
    assert redact("ConvertTo-SecureString 01000000d08c9ddf") == ("ConvertTo-SecureString 01000000d08c9ddf", 0)


# Second review. Each row: (command line, the secret, the whole expected output, written by hand).
# D1: cmd's \"...\" inside powershell -Command "..." is one PowerShell string, not a bare `\`.
# D2: `$` is a PowerShell reference only where PowerShell reads the line; a child's 4688 shows `$x`
#     only when nothing expanded it, so there it is the literal value.
# D3: netdom /PasswordD: /PasswordO: (netdom join's own names; /pd: /po: are the short forms).
M = REDACTED
SECOND_REVIEW_FOUND: list[tuple[str, str, str]] = [
    (
        r'powershell -Command "New-LocalUser bob -Password \"Esc@ped Pw2\""',
        "Esc@ped Pw2",
        rf'powershell -Command "New-LocalUser bob -Password \"{M}\""',
    ),
    (
        r'powershell -Command "$s = ConvertTo-SecureString \"EscCtss1\" -AsPlainText -Force"',
        "EscCtss1",
        rf'powershell -Command "$s = ConvertTo-SecureString \"{M}\" -AsPlainText -Force"',
    ),
    (
        r'powershell -Command "$env:GITHUB_TOKEN=\"EnvEsc3\"; gh auth status"',
        "EnvEsc3",
        rf'powershell -Command "$env:GITHUB_TOKEN=\"{M}\"; gh auth status"',
    ),
    (
        r'powershell -Command "$password = \"Esc@pedPw1\"; New-LocalUser bob"',
        "Esc@pedPw1",
        rf'powershell -Command "$password = \"{M}\"; New-LocalUser bob"',
    ),
    (
        r'powershell -c "ConvertTo-SecureString -String \"EscStr4\" -AsPlainText"',
        "EscStr4",
        rf'powershell -c "ConvertTo-SecureString -String \"{M}\" -AsPlainText"',
    ),
    (r'app.exe "Password=\"Db Pw5\";Server=x"', "Db Pw5", rf'app.exe "Password=\"{M}\";Server=x"'),
    ("psexec -u a -p $Passw0rd cmd", "$Passw0rd", f"psexec -u a -p {M} cmd"),
    ("sqlcmd -U sa -P $qlAdmin2019", "$qlAdmin2019", f"sqlcmd -U sa -P {M}"),
    ("wmic /password:$ecret1 os get caption", "$ecret1", f"wmic /password:{M} os get caption"),
    ("cmdkey /add:srv /user:u /pass:$Summer2024", "$Summer2024", f"cmdkey /add:srv /user:u /pass:{M}"),
    ("docker login -u ci -p $upersecret reg.example", "$upersecret", f"docker login -u ci -p {M} reg.example"),
    (
        "schtasks /create /tn t /tr calc /ru svc /rp $Winter2024",
        "$Winter2024",
        f"schtasks /create /tn t /tr calc /ru svc /rp {M}",
    ),
    ("sc config svc obj= CORP\\svc password= $ecretSvc", "$ecretSvc", f"sc config svc obj= CORP\\svc password= {M}"),
    ("curl -u bob:$ecret https://x", "$ecret", f"curl -u bob:{M} https://x"),
    ("tool.exe --token $env:GH_TOKEN", "$env:GH_TOKEN", f"tool.exe --token {M}"),
    ("psexec -u a -p (Paren1) cmd", "(Paren1)", f"psexec -u a -p {M} cmd"),
    # the host comes later on the line: the earlier cmd part is still literal
    ('cmd /c "psexec -u a -p $pw1" & powershell -c x', "$pw1", f'cmd /c "psexec -u a -p {M}" & powershell -c x'),
    # -File passes its arguments as literal strings; pwsh's first bare argument is a -File
    ("powershell -File x.ps1 -Password $Lit1", "$Lit1", f"powershell -File x.ps1 -Password {M}"),
    ("pwsh x.ps1 -Password $Lit2", "$Lit2", f"pwsh x.ps1 -Password {M}"),
    # a registry key named PowerShell is not the host
    (
        "reg add HKLM\\Software\\Policies\\Microsoft\\Windows\\PowerShell /v x /d 1 & psexec -u a -p $pw2",
        "$pw2",
        f"reg add HKLM\\Software\\Policies\\Microsoft\\Windows\\PowerShell /v x /d 1 & psexec -u a -p {M}",
    ),
    ("net use \\\\srv\\x $NetPw /user:a", "$NetPw", f"net use \\\\srv\\x {M} /user:a"),
    (
        "netdom join pc01 /domain:corp /ud:corp\\adm /passwordd:NdPw1",
        "NdPw1",
        f"netdom join pc01 /domain:corp /ud:corp\\adm /passwordd:{M}",
    ),
    (
        "netdom join pc01 /domain:corp /uo:adm /PasswordO:NdPw2",
        "NdPw2",
        f"netdom join pc01 /domain:corp /uo:adm /PasswordO:{M}",
    ),
    ("netdom.exe reset pc01 /ud:adm /PasswordD NdPw3", "NdPw3", f"netdom.exe reset pc01 /ud:adm /PasswordD {M}"),
    # what D4 must not lose
    ("sqlcmd -S db -U sa -PSecret1", "Secret1", f"sqlcmd -S db -U sa -P{M}"),
    ('powershell -c "sqlcmd -S db -U sa -PSecret2"', "Secret2", f'powershell -c "sqlcmd -S db -U sa -P{M}"'),
    (
        "powershell Invoke-Sqlcmd -ServerInstance db -Username sa -Password SqlPs3",
        "SqlPs3",
        f"powershell Invoke-Sqlcmd -ServerInstance db -Username sa -Password {M}",
    ),
    ("az login -u app -p AzPw4", "AzPw4", f"az login -u app -p {M}"),
    ("psexec -u a -p Pa\\ss.w0rd cmd", "Pa\\ss.w0rd", f"psexec -u a -p {M} cmd"),  # no drive/UNC/.\ start
    ("tool --pass 12", "12", f"tool --pass {M}"),  # two digits: not an encoder pass
    ("tool -password 1", "1", f"tool -password {M}"),  # only a switch named `pass` has pass numbers
    ("curl -u alice:CurlPw5 https://x", "CurlPw5", f"curl -u alice:{M} https://x"),
    # found while fixing D1: -AsPlainText closing the outer -Command "..." was not seen as the switch
    (
        "powershell -c \"ConvertTo-SecureString 'PlainLast6' -AsPlainText\"",
        "PlainLast6",
        f"powershell -c \"ConvertTo-SecureString '{M}' -AsPlainText\"",
    ),
]


@pytest.mark.parametrize(("line", "secret", "expected"), SECOND_REVIEW_FOUND)
def test_second_review_forms_are_redacted_exactly(line: str, secret: str, expected: str) -> None:
    out, n = redact(line)
    assert secret not in out.replace(REDACTED, "")
    assert (out, n) == (expected, 1)


SECOND_REVIEW_LEFT_ALONE: list[str] = [
    "rsync -u -P src dst",  # -u/-P of rsync and scp: update and progress/port, not sqlcmd's user and password
    "scp -u bob -P 2222 a b:/c",
    # D2: PowerShell reads these, and expands `$x` / `(...)` itself
    'powershell -c "psexec -u a -p $pw"',
    "pwsh -c New-X -Password $foo",
    '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" -NoP -ep Bypass New-X -Password $foo',
    "powershell -NoProfile -ExecutionPolicy Bypass -Command sc.exe config svc password= $ecretSvc",
    "powershell -c net use \\\\srv\\x $pw /user:a",
    r'powershell -c "tool --password \"$p\""',
    "powershell -c curl.exe -u bob:$pw https://x",
    # D4: PowerShell parameters that start with P, Invoke-Sqlcmd is not sqlcmd
    "powershell Export-Csv -Path C:\\out.csv -U x",
    "powershell Invoke-Sqlcmd -Query x -PacketSize 4096 -U x",
    "powershell Invoke-Sqlcmd -InputFile q.sql -PassThru",
    "Export-Csv -Path C:\\out.csv -NoTypeInformation -U x",
    # D4: a URL is not user:pass; a Windows path after -p is a path
    "az login -u http://app -p C:\\certs\\app.pem",
    'curl -u "http://x" https://y',
    "winpwnage.py -u execute -i 11 -p c:\\Windows\\system32\\calc.exe",
    "psexec -u a -p \\\\srv\\share\\tool.exe",
    "psexec -u a -p .\\bin\\x.dll",
    # D4: -u with no value is not a user switch (diff's "unified")
    "diff -u -p a.txt b.txt",
    # D4: an encoder's pass number
    "ffmpeg -i in.mp4 -c:v libx264 -b:v 2M -pass 1 -f null NUL",
    "x264 --pass 2 --bitrate 1000 -o out.mkv in.y4m",
    "x265 --pass=1 in.y4m",
]


@pytest.mark.parametrize("line", SECOND_REVIEW_LEFT_ALONE)
def test_second_review_near_misses_are_left_alone(line: str) -> None:
    assert redact(line) == (line, 0)


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_hostile_lines_redact_to_a_stable_result(unit: str) -> None:
    # Cost is measured by bench/redaction.py (a ratio to a benign line of the same length: 0.1-1.2
    # now, 110 for `pw={ ` before the fix); here only that the result is well-formed and final.
    line = fill(unit)
    out, n = redact(line)
    assert n >= 0 and (n == 0) == (out == line)
    assert redact(out)[0] == out  # a second pass finds nothing new to hide


def test_hostile_tail_after_a_long_token_is_redacted() -> None:
    line = "x" * 100_000 + " | ConvertTo-SecureString -AsPlainText"
    out, n = redact(line)
    assert n == 1 and out.endswith(f"{REDACTED} | ConvertTo-SecureString -AsPlainText")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_redact_never_raises_and_only_inserts_the_mask(line: str) -> None:
    out, n = redact(line)
    assert n >= 0
    if n == 0:
        assert out == line
    else:
        assert out.count(REDACTED) >= n


def test_long_hostile_input_is_handled_quickly() -> None:
    # A bare `-p` with no user switch on the line is a port or a pid (see the -p rows above), so a
    # long run of them, ending in a long token, is left as it is. Its cost is in bench/redaction.py.
    line = "-p " * 50_000 + "x" * 100_000
    assert redact(line) == (line, 0)


def test_url_like_token_runs_are_not_quadratic() -> None:
    line = "a." * 16_000 + "://x"
    assert redact(line) == (line, 0)
