"""collect.secrets.redact: each credential shape found and removed; near-misses left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditplan.collect.secrets import REDACTED, redact

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
    line = "-p " * 50_000 + "x" * 100_000
    out, n = redact(line)
    assert isinstance(out, str) and n >= 0


def test_url_like_token_runs_are_not_quadratic() -> None:
    line = "a." * 16_000 + "://x"
    assert redact(line) == (line, 0)
