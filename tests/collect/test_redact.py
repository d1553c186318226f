"""collect.redact: each credential shape found and removed; near-misses left alone (first and reviewed
forms; test_redact_reviews.py has the benign lines, the second review and hostile input)."""

from __future__ import annotations

import pytest

from auditplan.collect.redact import redact
from auditplan.records import REDACTED

# (command line, the secret that must disappear, expected count, text that must stay)
FOUND = [
    ("net user backdoor S3cr3t!Pw /add", "S3cr3t!Pw", 1, "net user backdoor "),
    ('net user "svc sql" "Pa ss w0rd" /add /domain', "Pa ss w0rd", 1, "/add /domain"),
    (r"net use \\fs01\share Hunter2x /user:CORP\alice", "Hunter2x", 1, r"/user:CORP\alice"),
    (r"PsExec.exe \\srv01 -u CORP\admin -p Winter2024! cmd.exe", "Winter2024!", 1, r"-u CORP\admin -p "),
    ("plink.exe -ssh root@10.0.0.5 -pw toorSecret -batch", "toorSecret", 1, "-batch"),
    ("tool.exe --password=Xy9_secret --verbose", "Xy9_secret", 1, "--verbose"),
    ("tool.exe --password Xy9_secret", "Xy9_secret", 1, "--password "),
    ("schtasks.exe /create /tn t /ru admin /p:Qwerty123 /tr calc", "Qwerty123", 1, "/tr calc"),
    ("wmic /node:srv /user:admin /password:Adm1nPass process list", "Adm1nPass", 1, "process list"),
    (
        "powershell -c New-LocalUser -Name bob -Password (ConvertTo-SecureString 'Sup3rS3cret' -AsPlainText -Force)",
        "Sup3rS3cret",
        1,
        "-AsPlainText -Force",
    ),
    (
        'powershell $p = ConvertTo-SecureString -String "Pl41nText" -AsPlainText -Force',
        "Pl41nText",
        1,
        "ConvertTo-SecureString -String",
    ),
    (
        'app.exe "Server=db01;Database=x;User Id=sa;Password=Db$ecret9;"',
        "Db$ecret9",
        1,
        "User Id=sa;",
    ),
    ('app.exe "Driver={SQL};uid=sa;pwd=OtherS3cret;"', "OtherS3cret", 1, "uid=sa;"),
    ('sqlcmd -S db01 -U sa -P SqlP4ss! -Q "select 1"', "SqlP4ss!", 1, "-U sa -P "),
    ("curl.exe -u alice:CurlPw42 https://api.example.com/", "CurlPw42", 1, "-u alice:"),
    ("git clone https://deploy:UrlPw77@git.example.com/repo.git", "UrlPw77", 1, "@git.example.com/repo.git"),
    (
        'curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def" https://x',
        "eyJhbGciOiJIUzI1NiJ9.abc.def",
        1,
        "Authorization: Bearer ",
    ),
    ("aws.exe configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", 1, "aws_access_key_id"),
    ("git push https://x.example/ ghp_" + "a" * 36, "ghp_" + "a" * 36, 1, "git push"),
    ("fetch.exe https://api.example.com/v1?apikey=k3y_abc123&x=1", "k3y_abc123", 1, "&x=1"),
    ("fetch.exe https://api.example.com/v1?token=tok_987zyx", "tok_987zyx", 1, "?token="),
    ("msbuild app.sln /p:Configuration=Release /p:DeployPassword=MsB4ild", "MsB4ild", 1, "/p:Configuration=Release"),
]


@pytest.mark.parametrize(("line", "secret", "count", "kept"), FOUND)
def test_each_credential_shape_is_redacted(line: str, secret: str, count: int, kept: str) -> None:
    out, n = redact(line)
    assert secret not in out
    assert REDACTED in out
    assert n == count
    assert kept in out


def test_two_secrets_in_one_line_count_twice() -> None:
    line = "net user bob FirstPw1 /add & curl -u bob:SecondPw2 https://x"
    out, n = redact(line)
    assert n == 2
    assert "FirstPw1" not in out and "SecondPw2" not in out


def test_overlapping_switches_count_once() -> None:
    # "-pw" must not also be read as "-p" + "w" when a user switch is present.
    out, n = redact("plink.exe -l admin -pw Pl1nkPw host")
    assert (out, n) == (f"plink.exe -l admin -pw {REDACTED} host", 1)


def test_mysql_attached_password() -> None:
    out, n = redact("mysql.exe -u root -pMyP4ss -h db01")
    assert (out, n) == (f"mysql.exe -u root -p{REDACTED} -h db01", 1)


NEAR_MISSES = [
    "ssh.exe -p 2222 admin@host",  # port, and no user switch
    "docker run -p 8080:80 nginx",  # port mapping
    "mkdir -p C:\\build\\out",  # "parents" flag
    "PsExec.exe \\\\srv01 -u CORP\\admin -p 22 cmd.exe",  # numeric value after -p: treated as a port
    "msbuild app.sln /p:Configuration=Release /p:Platform=x64",  # MSBuild properties
    "net user bob /add",  # no password given
    "net user bob * /add",  # '*' prompts for it
    "net user",  # enumeration
    "powershell New-LocalUser -Name bob -Password $securePw",  # a variable, not a secret
    "git clone https://github.com/org/repo.git",  # URL without credentials
    "curl.exe -u alice https://x",  # user only; curl prompts
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",  # svchost's -p flag
    "cmd.exe /c echo token",  # the word, not token=
]


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_misses_are_not_redacted(line: str) -> None:
    assert redact(line) == (line, 0)


# Forms a review found leaking (issue 7): (command line, the secret that must be gone, a piece of the
# command that must stay readable). Expectations are written by hand from each tool's syntax
# (`net help user`/`net help use`, PowerShell parameter binding, curl/openssl/7z/sqlcmd manuals).
REVIEWED_FORMS: list[tuple[str, str, str]] = [
    ("net use \\\\fs01\\share /user:alice NetUse1!", "NetUse1!", "net use \\\\fs01\\share /user:alice "),
    ("net use * \\\\srv\\share StarDev9 /persistent:no", "StarDev9", "net use * \\\\srv\\share "),
    ("net.exe use Z: \\\\srv\\data DrvPw77 /user:CORP\\bob", "DrvPw77", "/user:CORP\\bob"),
    ('net use \\\\10.0.0.5\\IPC$ "Quoted Pw 5" /user:administrator', "Quoted Pw 5", "/user:administrator"),
    ("net user /add alice AddFirst3", "AddFirst3", "net user /add alice "),
    ("net user bob 12345678 /add", "12345678", "net user bob "),
    ("cmd.exe /c net user bob $ecret /add", "$ecret", "cmd.exe /c net user bob "),
    ("net1 user svc_backup Bkp#2024 /domain", "Bkp#2024", "net1 user svc_backup "),
    ("C:\\Windows\\system32\\net.exe user /domain /add eve DomPw!42", "DomPw!42", "/add eve "),
    (
        "powershell -c ConvertTo-SecureString -AsPlainText -Force -String 'CtssLast1'",
        "CtssLast1",
        "-AsPlainText -Force",
    ),
    (
        "powershell -c \"'PipedPw2' | ConvertTo-SecureString -AsPlainText -Force\"",
        "PipedPw2",
        "| ConvertTo-SecureString",
    ),
    ('powershell -c ConvertTo-SecureString "DqFirst3" -AsPlainText -Force', "DqFirst3", "-AsPlainText -Force"),
    ("pwsh -c $s = ConvertTo-SecureString PlainBare4 -AsPlainText -Force", "PlainBare4", "ConvertTo-SecureString "),
    ("powershell -c ConvertTo-SecureString -String Abbrev5 -AsPlain -Force", "Abbrev5", "-AsPlain"),
    ('powershell -c "P@ss word6" | ConvertTo-SecureString -AsPlainText', "P@ss word6", "ConvertTo-SecureString"),
    (
        'powershell Invoke-RestMethod -Uri https://api.x/v1 -Headers @{Authorization="Bearer HdrTok9a"}',
        "HdrTok9a",
        "-Headers @{Authorization=",
    ),
    ("powershell iwr https://x -Headers @{'Authorization'='Basic YWxpY2U6cHc='}", "YWxpY2U6cHc=", "-Headers @{"),
    ('curl.exe -H "Authorization: Basic dXNlcjpwYXNz" https://x', "dXNlcjpwYXNz", "Authorization: Basic "),
    ("curl -H 'Authorization: Bearer sq.Tok.en1' https://x", "sq.Tok.en1", "curl -H 'Authorization: Bearer "),
    ('curl -H "Authorization:Bearer NoSpace7" https://x', "NoSpace7", "https://x"),
    ('curl -H "X-Api-Key: XApiKey88" https://x', "XApiKey88", "curl -H "),
    ("powershell iwr https://x -Headers @{'X-API-Key'='HdrKey99'}", "HdrKey99", "iwr https://x"),
    (
        "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws configure set aws_secret_access_key ",
    ),
    ("aws configure set default.aws_session_token SessTok123", "SessTok123", "aws configure set "),
    (
        "powershell Set-AWSCredential -AccessKey AKIAIOSFODNN7EXAMPLE -SecretKey wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Set-AWSCredential -AccessKey ",
    ),
    (
        "powershell Set-AWSCredential -AccessKey AKIAIOSFODNN7EXAMPLE -SecretKey x -StoreAs p",
        "AKIAIOSFODNN7EXAMPLE",
        "-StoreAs p",
    ),
    ("aws.exe s3 ls --profile p AKIAI44QH8DHBEXAMPLE", "AKIAI44QH8DHBEXAMPLE", "s3 ls --profile p"),
    (
        "set AWS_SECRET_ACCESS_KEY=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY && aws s3 ls",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "&& aws s3 ls",
    ),
    ("tool.exe --api-key ApiK3y_1 --verbose", "ApiK3y_1", "--verbose"),
    ("powershell Connect-Thing -ApiKey ApiK3y_2 -Force", "ApiK3y_2", "-Force"),
    ("tool.exe --token Tok3n_3 list", "Tok3n_3", "list"),
    ("powershell Connect-Svc -Token Tok3n_4", "Tok3n_4", "Connect-Svc -Token "),
    ("az login --service-principal -u app --client-secret CliS3c_5 --tenant t", "CliS3c_5", "--tenant t"),
    ("powershell Connect-Graph -ClientSecret CliS3c_6 -TenantId t", "CliS3c_6", "-TenantId t"),
    ("tool.exe --password=Eq_Pw7", "Eq_Pw7", "tool.exe --password="),
    ("schtasks /create /tn t /u admin /p:ColonPw8 /tr calc", "ColonPw8", "/tr calc"),
    (
        "powershell Install-ADDSForest -DomainName corp.local -SafeModeAdministratorPassword Dsrm_Pw9 -Force",
        "Dsrm_Pw9",
        "-DomainName corp.local",
    ),
    ("powershell Install-ADDSDomainController -AdminPassword AdmPw_10 -DomainName x", "AdmPw_10", "-DomainName x"),
    ("powershell Install-ADDSForest -DSRMPassword DsrmPw_11 -Force", "DsrmPw_11", "-Force"),
    ("powershell New-LocalUser bob -Password 'it''sPw12'", "sPw12", "New-LocalUser bob -Password "),
    ("wget --http-password=WgetPw13 https://x", "WgetPw13", "https://x"),
    ("az storage blob list --account-key AccKey14== --account-name sa", "AccKey14==", "--account-name sa"),
    ("tool.exe -pw PlinkLike15", "PlinkLike15", "tool.exe -pw "),
    ("tool.exe --password=-eqDash17", "-eqDash17", "tool.exe --password="),
    ("New-LocalUser bob -Password 12345678", "12345678", "New-LocalUser bob -Password "),
    ("curl -ualice:CurlAtt18 https://x", "CurlAtt18", "https://x"),
    ("curl --user=alice:CurlEq19 https://x", "CurlEq19", "https://x"),
    ("curl -u alice:CurlSp20 https://x", "CurlSp20", "curl -u alice:"),
    ('curl -u "alice:Curl Q21" https://x', "Curl Q21", "https://x"),
    ("curl --proxy-user pu:ProxPw22 -x http://proxy:3128 https://x", "ProxPw22", "-x http://proxy:3128"),
    ("https://user:UrlPw23@host/path", "UrlPw23", "@host/path"),
    (
        "git clone https://oauth2:glpat-UrlTok24@gitlab.example.com/g/r.git",
        "glpat-UrlTok24",
        "gitlab.example.com/g/r.git",
    ),
    ('sqlcmd -S db -U sa -P "SqlQ 25" -Q "select 1"', "SqlQ 25", '-Q "select 1"'),
    ("sqlcmd -S db -U sa -P12345678", "12345678", "-U sa -P"),
    ("mysql -uroot -pMy26pw mydb", "My26pw", "mydb"),
    ("mysqldump.exe --user=root --password=Dump27 db", "Dump27", "db"),
    ("7z a -pSevenZ28 x.7z folder", "SevenZ28", "x.7z folder"),
    ('7za.exe x -p"Seven Q29" x.7z', "Seven Q29", "x.7z"),
    ('"C:\\Program Files\\7-Zip\\7z.exe" a -mhe=on -pZipPw30 out.7z in', "ZipPw30", "-mhe=on"),
    ("rar a -hpRarPw31 x.rar f", "RarPw31", "x.rar f"),
    ("zip -P ZipPw32 out.zip f.txt", "ZipPw32", "out.zip f.txt"),
    ("openssl pkcs12 -export -in c.pem -out c.pfx -passout pass:OsslOut33", "OsslOut33", "-out c.pfx -passout pass:"),
    ("openssl rsa -in k.pem -passin pass:OsslIn34 -out k2.pem", "OsslIn34", "-out k2.pem"),
    ("openssl enc -aes-256-cbc -in f -out f.enc -k OsslK35", "OsslK35", "-out f.enc"),
    ("openssl enc -aes-256-cbc -pass pass:OsslPass36 -in f", "OsslPass36", "-in f"),
    ("certutil -p CertPw37 -importpfx c.pfx", "CertPw37", "-importpfx c.pfx"),
    ('certutil.exe -f -p "Cert Q38" -importpfx My c.pfx', "Cert Q38", "-importpfx My c.pfx"),
    ("PsExec64.exe \\\\srv -u CORP\\adm -p PsX39 -s cmd", "PsX39", "-s cmd"),
    ("schtasks /create /tn t /tr calc /sc daily /RU CORP\\svc /RP SchRp40", "SchRp40", "/RU CORP\\svc /RP "),
    ("wmic /node:srv /user:CORP\\u /password:Wmic41 os get caption", "Wmic41", "os get caption"),
    ("cmdkey /add:srv01 /user:CORP\\u /pass:CmdKey42", "CmdKey42", "/user:CORP\\u"),
    ('cmdkey /generic:TERMSRV/srv /user:u /pass:"Cmd Key43"', "Cmd Key43", "/user:u"),
    ("tasklist /s srv /u CORP\\u /p TaskPw44", "TaskPw44", "/u CORP\\u"),
    ("signtool sign /f c.pfx /p SignPw45 /t http://ts x.exe", "SignPw45", "/t http://ts x.exe"),
    ("plink -ssh -l root -pw Plink46 host", "Plink46", "host"),
    ("docker login -u ci -p DockerPw47 registry.example.com", "DockerPw47", "registry.example.com"),
    ('app.exe "Driver={ODBC};Server=db;Uid=sa;Password={ab;cdOdbc48};"', "cdOdbc48", "Uid=sa;"),
    ('app.exe "Driver={ODBC};Pwd={x}}yOdbc49};Server=db"', "yOdbc49", "Server=db"),
    ("powershell New-LocalUser -Name bob -Password 'it''sQuote50'", "sQuote50", "-Name bob -Password "),
    (
        "powershell -c \"$c = New-Object PSCredential('u', (ConvertTo-SecureString 'Nest51' -AsPlainText -Force))\"",
        "Nest51",
        "New-Object PSCredential",
    ),
    ("sc.exe config svc obj= CORP\\svc password= ScPw52", "ScPw52", "obj= CORP\\svc password= "),
    ("powershell -c \"$cs = 'Server=db;User ID=app;Password=PsConn53'\"", "PsConn53", "User ID=app;"),
    ('curl -d \'{"user":"a","password":"Json54"}\' https://x/login', "Json54", '"user":"a"'),
    ("$env:GITHUB_TOKEN='EnvTok55'; gh auth status", "EnvTok55", "gh auth status"),
    ("setx DB_PASSWORD SetxPw56", "SetxPw56", "setx DB_PASSWORD "),
    ("https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=SasSig57%3D&se=2030", "SasSig57%3D", "&se=2030"),
    ("tool.exe -p:x --verbose --password Later58", "Later58", "--verbose --password "),
    ('cmd /c "net user bob InnerQ59"', "InnerQ59", 'cmd /c "net user bob '),
    ("powershell -c \"$password = 'PsVar60'; New-LocalUser bob\"", "PsVar60", "New-LocalUser bob"),
    ("powershell -c \"$cred = [Net.NetworkCredential]::new('u', 'NetCred61')\"", "NetCred61", "NetworkCredential"),
    ("redis-cli -h cache -a RedisPw62 ping", "RedisPw62", "ping"),
    ("sshpass -p SshPass63 ssh u@h", "SshPass63", "ssh u@h"),
    ('ldapsearch -x -D "cn=admin,dc=x" -w LdapPw64 -b dc=x', "LdapPw64", "-b dc=x"),
    ("netdom join pc01 /domain:corp /ud:corp\\adm /pd:NetdomPw65", "NetdomPw65", "/ud:corp\\adm"),
    ("smbclient //srv/share -U alice%SmbPw66", "SmbPw66", "//srv/share -U alice%"),
    ("secretsdump.exe corp.local/adm:Impkt67@10.0.0.1", "Impkt67", "@10.0.0.1"),
    ("npm config set //registry.npmjs.org/:_authToken NpmTok68", "NpmTok68", "npm config set"),
    (
        'reg add "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon" /v DefaultPassword /t REG_SZ /d AutoLogon69 /f',
        "AutoLogon69",
        "/v DefaultPassword /t REG_SZ /d ",
    ),
    (
        "powershell Set-ItemProperty -Path $wl -Name DefaultPassword -Value AutoLogon70",
        "AutoLogon70",
        "-Name DefaultPassword",
    ),
    ("winrs -r:srv -u:adm -p:WinRs71 ipconfig", "WinRs71", "ipconfig"),
    (
        'mimikatz.exe "sekurlsa::pth /user:adm /domain:corp /ntlm:31d6cfe0d16ae931b73c59d7e0c089c0"',
        "31d6cfe0d16ae931b73c59d7e0c089c0",
        "/domain:corp",
    ),
    (
        "Rubeus.exe asktgt /user:adm /rc4:0123456789abcdef0123456789abcdef /ptt",
        "0123456789abcdef0123456789abcdef",
        "/ptt",
    ),
    ("keytool -importkeystore -srcstorepass KsPw72 -deststorepass KsPw73", "KsPw72", "-importkeystore"),
    ("java -Djavax.net.ssl.keyStorePassword=JavaPw74 -jar app.jar", "JavaPw74", "-jar app.jar"),
    ("kubectl create secret generic db --from-literal=password=K8sPw75", "K8sPw75", "--from-literal=password="),
    ("helm install x chart --set db.password=HelmPw76", "HelmPw76", "--set db.password="),
    ("docker run -e DB_PASSWORD=DockEnv77 -e API_KEY=DockKey78 img", "DockEnv77", "img"),
    ("PGPASSWORD=PgPw79 psql -h db -U app", "PgPw79", "psql -h db -U app"),
    ("gpg --batch --passphrase GpgPw80 -c f.txt", "GpgPw80", "-c f.txt"),
    (
        "dcpromo /unattend /SafeModeAdminPassword:Dcp81 /ReplicaOrNewDomain:domain",
        "Dcp81",
        "/ReplicaOrNewDomain:domain",
    ),
    (
        "powershell New-ADUser bob -AccountPassword (ConvertTo-SecureString -AsPlainText 'AdPw82' -Force)",
        "AdPw82",
        "-AccountPassword (ConvertTo-SecureString -AsPlainText ",
    ),
    ("powershell Connect-X -Passw ShortPw83", "ShortPw83", "Connect-X -Passw "),
    ("net user bob Pa;ss84 /add", "Pa;ss84", "/add"),
    # Third review. Syntax from each tool's own usage text: SQL Server setup's SAPWD property, cmd's
    # \" inside powershell -Command "...", netsh wlan set hostednetwork's key=, az keyvault secret set,
    # Set-ItemProperty's positions (Path 0, Name 1, Value 2), ldifde/csvde -b user domain password,
    # bitsadmin /setcredentials job target scheme user password, Autologon user domain password,
    # vaultcmd /authenticator:, manage-bde -rp (-RecoveryPassword), nuget setapikey KEY, vault login
    # TOKEN, pspasswd [\\computer] user NewPassword.
    ("msiexec /i sqlexpr.msi /qn SAPWD=Adm1nPw!", "Adm1nPw!", "msiexec /i sqlexpr.msi /qn SAPWD="),
    ('setup.exe /Q /ACTION=Install /SAPWD="Sa!Pw2024"', "Sa!Pw2024", '/Q /ACTION=Install /SAPWD="'),
    ("installer.exe /quiet DBPWD=DbPwd85x INSTALLDIR=C:\\app", "DbPwd85x", "INSTALLDIR=C:\\app"),
    (
        r'powershell -Command "Invoke-RestMethod https://x -Headers @{Authorization=\"Bearer eyJlit3ral\"}"',
        "eyJlit3ral",
        rf'-Headers @{{Authorization=\"Bearer {REDACTED}\"}}"',
    ),
    (
        "netsh wlan set hostednetwork mode=allow ssid=Corp key=WifiPassw0rd keyUsage=persistent",
        "WifiPassw0rd",
        "mode=allow ssid=Corp key=",
    ),
    (
        "az keyvault secret set --vault-name kv01 --name DbPassword --value KvS3cret!",
        "KvS3cret!",
        "--vault-name kv01 --name DbPassword --value ",
    ),
    (
        "az keyvault secret set -n ApiToken --vault-name kv01 --value KvTok86",
        "KvTok86",
        "-n ApiToken --vault-name kv01",
    ),
    (
        "powershell Set-AzKeyVaultSecret -VaultName kv01 -Name DbPw -SecretValue "
        "(ConvertTo-SecureString 'AzKvPw87' -AsPlainText -Force)",
        "AzKvPw87",
        "-VaultName kv01 -Name DbPw -SecretValue (ConvertTo-SecureString '",
    ),
    (
        "powershell Set-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon'"
        " 'DefaultPassword' 'PosPw1'",
        "PosPw1",
        "\\Winlogon' 'DefaultPassword' '",
    ),
    (
        "powershell Set-ItemProperty -Path $wl -Value 'ValFirst1' -Name DefaultPassword",
        "ValFirst1",
        "-Name DefaultPassword",
    ),
    (
        'powershell -c "Set-ItemProperty $wl -Name DefaultPassword PosVal88; Restart-Computer"',
        "PosVal88",
        "; Restart-Computer",
    ),
    (
        "ldifde -i -f users.ldf -s dc01 -b administrator corp.local Adm1nP4ss",
        "Adm1nP4ss",
        "-b administrator corp.local ",
    ),
    ('csvde -i -f u.csv -b admin corp.local "Pa55 word"', "Pa55 word", "-b admin corp.local "),
    ("bitsadmin /setcredentials MyJob SERVER BASIC bob B1tsPw", "B1tsPw", "MyJob SERVER BASIC bob "),
    ("autologon.exe bob CORP Aut0Pw!", "Aut0Pw!", "autologon.exe bob CORP "),
    ("C:\\tools\\Autologon64.exe /accepteula bob CORP Aut0Pw89", "Aut0Pw89", "/accepteula bob CORP "),
    (
        'vaultcmd /addcreds:"Windows Credentials" /credtype:"Windows Domain Password Credential"'
        " /identity:bob /authenticator:VaultPw99",
        "VaultPw99",
        "/identity:bob /authenticator:",
    ),
    (
        "powershell -c \"[System.Environment]::SetEnvironmentVariable('API_TOKEN','tok_live_55555','Machine')\"",
        "tok_live_55555",
        "SetEnvironmentVariable('API_TOKEN','",
    ),
    ("setx /M DB_PASS DbPassVal1", "DbPassVal1", "setx /M DB_PASS "),
    ("setx /s srv01 /m DB_PASSWORD SetxPw90", "SetxPw90", "/s srv01 /m DB_PASSWORD "),
    (
        "manage-bde -unlock E: -rp 111111-222222-333333-444444-555555-666666-777777-888888",
        "111111-222222-333333-444444-555555-666666-777777-888888",
        "manage-bde -unlock E: -rp ",
    ),
    ("nuget setapikey oy2abcdefghijklmnop -Source https://x/v3", "oy2abcdefghijklmnop", "-Source https://x/v3"),
    ("vault login s.AbCdEf123", "s.AbCdEf123", "vault login "),
    ("vault.exe login -no-print hvs.VaultTok91", "hvs.VaultTok91", "vault.exe login -no-print "),
    ("pspasswd \\\\host localadmin NewL0calPw", "NewL0calPw", "pspasswd \\\\host localadmin "),
    ("pspasswd64.exe -accepteula localadmin NewL0calPw92", "NewL0calPw92", "-accepteula localadmin "),
    ('"C:\\Sysinternals\\Autologon.exe" bob CORP QuotedPath93', "QuotedPath93", 'Autologon.exe" bob CORP '),
    (
        "az keyvault secret set --vault-name kv01 --name sqladmin --value KvAny94",
        "KvAny94",
        "--name sqladmin --value ",
    ),
    ("az appconfig kv set -n cfg --key Db:Password --value AppCfg95", "AppCfg95", "--key Db:Password --value "),
    ("tool.exe --name=DbPassword --value=EqVal96 --verbose", "EqVal96", "--name=DbPassword --value="),
    ('netsh wlan set profileparameter name=Corp keyMaterial="Wifi Key97"', "Wifi Key97", "name=Corp keyMaterial="),
]


@pytest.mark.parametrize(("line", "secret", "kept"), REVIEWED_FORMS)
def test_reviewed_forms_are_redacted_and_the_rest_stays(line: str, secret: str, kept: str) -> None:
    out, n = redact(line)
    assert secret not in out, out
    assert kept in out, out
    assert n >= 1 and out.count(REDACTED) == n
