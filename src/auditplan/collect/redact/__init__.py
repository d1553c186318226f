"""Redaction of credentials in command lines (4688 CommandLine, Sysmon CommandLine).

`redact(command_line)` replaces each secret VALUE (not the switch naming it) with REDACTED and returns
how many it replaced. Spans found by all rules are merged first, so a secret two rules agree on counts
once and a replacement is never re-matched. The rest of the line is kept, so detections still see it.

How a value is read: \\"cmd-escaped\\" (inside `powershell -Command "..."`: PowerShell sees "x"),
"double quoted" (\\" `" and "" escape a quote; an unclosed quote runs to the end), 'single quoted'
('' escapes a quote, PowerShell), {braced} after `Name=` (ODBC, }} escapes), or a bare token. A value is
consumed only when it is redacted (a {braced} one always), so in `--verbose --password X` the second
switch is still seen. Linear time on hostile lines: each rule reads each consumed value once, an
unconsumed value ends at the next space or quote, and the braced branch is tried only before the
line's last `}` (found once), so `pw={ pw={ ...` does not rescan to the end for every `{`.

Which values a rule leaves alone (each rule names its own set; a too-wide set leaks secrets):
- everywhere: nothing given, `*` (the tool prompts for it), `%VAR%` (cmd expands it, so the secret
  shows, if anywhere, in the child's own 4688, which is redacted on its own);
- where PowerShell reads the value: `$var`, `$env:X`, `(expression)`, a reference, not the secret.
  That is after a powershell.exe/pwsh.exe on the line (its -Command text, or its first bare argument
  for powershell.exe; not the literal arguments after -File, nor pwsh's script path), and in
  PowerShell-only syntax (ConvertTo-SecureString, `$x = '...'`, NetworkCredential, -Name/-Value).
  Elsewhere `$` is literal (cmd, and PowerShell has already expanded variables before it starts a
  child), so `net user bob $ecret`, `psexec -u a -p $Passw0rd`, `curl -u bob:$ecret` ARE redacted;
- space-separated switch values that start with `-` (the next switch, not a value);
- only `-p` (lower case, with a user switch): numbers and `N:N`, which are ports or PIDs there
  (`ssh -l u -p 22`, `docker run -u 1000 -p 8080:80`), and a Windows path with a backslash and an
  extension (`-p C:\\certs\\app.pem`, a payload path). Everywhere else a number is a password
  (`net user bob 12345678 /add`);
- only a switch named exactly `pass`: one digit, an encoder's pass number (`ffmpeg -pass 1`).

Decisions on near-misses (recall traded against false alarms):
- `-p VALUE` is a password only when the line also names a user (`-u`, `-U`, `/u`, `-user`, `--user`,
  `-l`, followed by a value: `diff -u -p` is "unified"): PsExec/docker style; alone it is a port or
  "parents" (`mkdir -p`); not for mysql, where `-p VALUE` means "prompt, then database VALUE".
  Attached `-pVALUE` counts for mysql and the archivers (7z, rar: also `-hp`).
- `-P` is the password of sqlcmd/osql/bcp/isql (or any line with `-U`) and of zip/unzip; never on a mysql
  line (port there). On PowerShell lines attached `-P` + a letter is a parameter (`-Path`, `-PacketSize`
  of Invoke-Sqlcmd) unless a native sqlcmd/osql/bcp/isql comes before it.
- `/p:Name=Value` is an MSBuild property, redacted when Name names a secret; `/p:VALUE` is a password;
  `/p VALUE` only with `/u`, `/user` or `/ru` (tasklist, schtasks) or for signtool (`msiexec /p` is a patch).
- A switch names a secret when its last word is password/passwd/passphrase/pwd/pw/pass/secret/token,
  or `<api|access|secret|account|storage|...> key`, split at `-`, `_` and camelCase (`-AdminPassword`,
  `--client-secret`, `-SafeModeAdministratorPassword`, `-DSRMPassword`); `--password-stdin`,
  `-PasswordNeverExpires`, `/uniquepw:` do not. Openssl's `-passin env:X`/`file:`/`fd:`/`stdin` name a
  source, not a secret; `pass:X` is the secret X.
- AWS: key ids (AKIA/ASIA...), `aws configure set aws_secret_access_key K`, and on a line that
  mentions AWS any 40-character [A-Za-z0-9/+] run holding upper case, lower case and a digit (a git or
  SHA-1 hash is one case of hex, so it is not taken).
- Also taken: `reg add ... /v DefaultPassword /d X` and `Set-ItemProperty -Name DefaultPassword -Value X`
  (AutoAdminLogon), `$password = 'X'`, `NetworkCredential('u', 'X')`, impacket-style `dom/user:X@host`,
  smbclient `-U user%X`, winrs `-p:X`, netdom `/PasswordD:X` `/PasswordO:X` (`/pd:` `/po:`), redis-cli
  `-a`, sshpass `-p`, ldapsearch `-w`.
- curl's `-u user:pass` is not read from `-u http://...` (az login's app URL), nor from `-user:bob`,
  `-username:bob`, `-userid:bob` (wbadmin, agents): there `ser...:` is the switch name, and the account
  must stay readable for detections.
- A name that runs into `pwd` names a secret (SQL Server setup's `SAPWD=`, `DBPWD=`), except `OLDPWD`.
- Name and value given apart: `-Name/--name/-n SECRETNAME` and `-Value/--value V` in either order within
  one command (up to ; & | or a newline), Set-ItemProperty's positions (Path, Name, Value), and
  `[Environment]::SetEnvironmentVariable('NAME', 'V', ...)`. `az keyvault secret set --value V` always.
- Fixed positions: ldifde/csvde `-b user domain PASSWORD`, bitsadmin `/setcredentials job target scheme
  user PASSWORD`, Sysinternals `autologon user domain PASSWORD` and `pspasswd [\\computer] user
  PASSWORD`, `vault login TOKEN`, `nuget setapikey KEY`.
- Tool-scoped switches: netsh `key=` only with `hostednetwork` (`show profile key=clear` is a mode) and
  `keyMaterial=`; vaultcmd `/authenticator:` (certbot's `--authenticator` is a plugin name); manage-bde
  `-rp` (-RecoveryPassword; alone it makes a new one); `setx /M NAME VALUE` with setx's switches first.
- runas takes no password on its command line: nothing to find there.
"""

from auditplan.collect.redact.engine import redact

__all__ = ["redact"]
