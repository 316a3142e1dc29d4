"""The package as a user installs and runs it: extras, one configuration, secrets masked, CLI habits.

Every command runs as a real subprocess with its own HELIQA_HOME filled by the seeded demo generator. A missing
extra is simulated by blocking its modules (`sys.modules[name] = None`), which makes their import fail exactly
as it does when the distribution is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from heliqa.tools.extras import EXTRAS
from heliqa.tools.settings import ENV_NAMES, Settings, markdown_table

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-24T12:00:00Z"
QUESTION = "p90 latency for gpt-4 last week by day"
SECRET = "s3cretPassw0rd"
EVERY_EXTRA_MODULE = sorted({m for modules in EXTRAS.values() for m in modules})


def run(home: Path, *args: str, block: tuple[str, ...] | list[str] = (), stdin: str | None = None, **env: str):
    """`heliqa ARGS` in a fresh interpreter, with `block`ed modules unimportable and only `env` configured."""
    code = (
        "import sys\n"
        f"for name in {list(block)!r}: sys.modules[name] = None\n"
        "from heliqa.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_", "OPENAI_", "SLACK_"))}
    environ.update(HELIQA_HOME=str(home), **env)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True, env=environ, timeout=120
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    """A store of 3,000 seeded demo requests ending at NOW, loaded with every extra blocked (core only)."""
    home = tmp_path_factory.mktemp("demo-home")
    done = run(home, "demo", "--rows", "3000", "--now", NOW, block=EVERY_EXTRA_MODULE)
    assert done.returncode == 0 and "3,000 new requests" in done.stdout, done.stderr
    return home


# --- extras ---------------------------------------------------------------------------------------------------


def test_each_extra_in_pyproject_installs_the_modules_heliqa_checks():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        names = {re.split(r"[<>=!~\[ ]", req, maxsplit=1)[0].lower().replace("-", "_") for req in extras[extra]}
        assert names == set(modules), extra
    assert extras["all"] == [f"heliqa[{','.join(sorted(EXTRAS))}]"]


def test_the_core_answers_with_every_extra_missing(demo_home):
    done = run(
        demo_home,
        "ask",
        "--json",
        "--tz",
        "UTC",
        "--now",
        NOW,
        QUESTION,
        block=EVERY_EXTRA_MODULE,
        OPENAI_API_KEY="sk-configured-but-not-installed",  # auto planner: rules only, no crash
    )
    answer = json.loads(done.stdout)
    assert done.returncode == 0 and answer["status"] == "ok" and len(answer["data"]) == 8, done.stderr
    orgs = run(demo_home, "orgs", block=EVERY_EXTRA_MODULE)
    assert orgs.returncode == 0 and re.search(r"\t3000\t2026-10-25T\S+Z\t2026-11-24T11:\d\d:\d\dZ\n$", orgs.stdout)


@pytest.mark.parametrize(
    ("extra", "args", "env"),
    [
        ("slack", ["slack"], {}),
        ("serve", ["serve"], {}),
        ("llm", ["eval", "cases.jsonl"], {}),
        ("llm", ["ask", "--planner", "llm", QUESTION], {"OPENAI_API_KEY": "sk-abcdefghijkl"}),
        ("clickhouse", ["ask", "--backend", "clickhouse", QUESTION], {"HELIQA_CLICKHOUSE_URL": "http://h:8123/db"}),
        ("chdb", ["ask", "--backend", "clickhouse", QUESTION], {"HELIQA_CLICKHOUSE_URL": "chdb:///tmp/nowhere"}),
    ],
)
def test_a_command_whose_extra_is_missing_names_it(demo_home, extra, args, env):
    blocked = EXTRAS[extra][:1]  # one missing module is enough
    done = run(demo_home, *args, block=blocked, **env)
    assert done.returncode == 2
    assert done.stderr.startswith("heliqa: ") and f"needs the [{extra}] extra" in done.stderr
    assert f"pip install 'heliqa[{extra}]'" in done.stderr and blocked[0] in done.stderr


# --- one configuration -----------------------------------------------------------------------------------------


def test_the_readme_documents_every_setting_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "README's configuration table is stale: paste `python -m heliqa.tools.settings`"
    documented = re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE)
    assert sorted(documented) == sorted(ENV_NAMES)


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for folder in ("agent", "tools", "heliqa"):
        for path in (ROOT / folder).glob("*.py"):
            text = path.read_text()
            if path.name != "settings.py" and re.search(r"os\.environ|os\.getenv|getenv\(", text):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_every_secret_field_is_a_secret_str():
    secret_like = [n for n in Settings.model_fields if re.search(r"_(KEY|KEYS|TOKEN|SECRET)$", n.upper())]
    for name in secret_like:
        assert "SecretStr" in str(Settings.model_fields[name].annotation), name


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HELICONE_TIMEOUT": "-5"}, "HELICONE_TIMEOUT='-5' must be a positive number of seconds"),
        ({"HELICONE_TIMEOUT": "nan"}, "HELICONE_TIMEOUT='nan' must be a positive number of seconds"),
        ({"HELICONE_TIMEOUT": "soon"}, "HELICONE_TIMEOUT='soon'"),
        ({"HELIQA_LLM_MAX_TOKENS": "0"}, "HELIQA_LLM_MAX_TOKENS='0' must be a positive whole number"),
        ({"HELIQA_BACKEND": "mysql"}, "HELIQA_BACKEND='mysql'"),
        ({"HELIQA_TZ": "Mars/Olympus"}, "HELIQA_TZ='Mars/Olympus' is not a time zone"),
        (
            {"HELIQA_CLICKHOUSE_URL": f"http://reader:{SECRET}@ch:notaport/db"},
            "HELIQA_CLICKHOUSE_URL='http://***@ch:notaport/db' has a port that is not a number",
        ),
        ({"HELICONE_BASE_URL": "api.helicone.ai"}, "HELICONE_BASE_URL='api.helicone.ai' is not an http(s) URL"),
        (
            {"OPENAI_BASE_URL": f"http://u:{SECRET}@llm:99999/v1"},
            "OPENAI_BASE_URL='http://***@llm:99999/v1' has a port",
        ),
    ],
)
def test_a_bad_setting_is_one_clear_error(demo_home, env, named):
    done = run(demo_home, "ask", QUESTION, **env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("heliqa: invalid configuration: ") and named in done.stderr
    assert SECRET not in done.stderr


def test_secrets_and_url_passwords_are_masked_in_errors(demo_home):
    helicone = run(
        demo_home,
        "ask",
        "--backend",
        "helicone",
        QUESTION,
        HELICONE_API_KEY="hk-abcdefghijklmnop",
        HELICONE_BASE_URL=f"http://reader:{SECRET}@127.0.0.1:1",
        HELICONE_TIMEOUT="2",
    )
    assert helicone.returncode == 5 and "cannot reach http://***@127.0.0.1:1" in helicone.stderr
    llm = run(
        demo_home, "ask", "--json", "--planner", "llm", QUESTION, OPENAI_BASE_URL=f"http://u:{SECRET}@127.0.0.1:9/v1"
    )
    answer = json.loads(llm.stdout)
    assert llm.returncode == 5 and "http://***@127.0.0.1:9/v1" in answer["message"]
    for done in (helicone, llm):
        assert SECRET not in done.stdout + done.stderr and "hk-abcdefghijklmnop" not in done.stdout + done.stderr


def test_log_lines_hide_the_clickhouse_password(monkeypatch):
    import logging

    from heliqa.slack import RedactingFilter

    monkeypatch.setenv("HELIQA_CLICKHOUSE_URL", f"https://reader:{SECRET}@ch.example:8443/helicone")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login failed for %s (password %s)", None, None)
    record.args = ("https://reader:" + SECRET + "@ch.example:8443/helicone", SECRET)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "login failed for https://***@ch.example:8443/helicone (password [redacted])"


# --- CLI habits -----------------------------------------------------------------------------------------------


def test_version_and_bare_command(tmp_path):
    shown = run(tmp_path, "--version")
    assert shown.returncode == 0 and shown.stdout == f"heliqa {version('heliqa')}\n"
    bare = run(tmp_path)
    assert bare.returncode == 0 and bare.stdout.startswith("usage: heliqa")
    for name in ("ask", "chat", "import", "demo", "query", "orgs", "slack", "serve", "eval"):
        assert f"    {name} " in bare.stdout


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("ask", "(default: HELIQA_PLANNER, else auto)"),
        ("chat", "(default: HELIQA_TZ, else this machine's)"),
        ("query", "(default: HELIQA_BACKEND, else embedded)"),
        ("import", "exit code is 0 when anything loaded"),
        ("demo", "(default: 300000)"),
        ("orgs", "heliqa orgs"),
        ("slack", "(default: 3000)"),
        ("serve", "(default: 8585)"),
        ("eval", "needs the [llm] extra"),
    ],
)
def test_every_subcommand_help_has_examples_and_defaults(tmp_path, command, shown):
    done = run(tmp_path, command, "--help", block=EVERY_EXTRA_MODULE)
    examples = done.stdout.partition("\nexamples:\n")[2].splitlines()
    assert done.returncode == 0 and examples and "heliqa " in examples[0]
    assert shown in " ".join(done.stdout.split())  # help text wraps with the terminal's width


def test_usage_errors_have_the_one_prefix(tmp_path):
    for args in (["ask"], ["nonsense"], ["demo", "--rows", "many"]):
        done = run(tmp_path, *args)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith("heliqa: "), args
        assert "--help" in done.stderr


def test_import_with_bad_lines_exits_0_and_names_them_but_2_when_nothing_loaded(tmp_path):
    good = {"request_id": "r1", "organization_id": "org-a", "status": 200, "request_created_at": NOW}
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(good) + "\n{oops\n")
    done = run(tmp_path / "home", "import", "--quiet", str(mixed))
    assert done.returncode == 0 and "imported 1 new requests" in done.stdout and "1 bad lines skipped" in done.stdout
    assert done.stderr == f"heliqa: skipped {mixed}:2: not valid JSON\n"
    again = run(tmp_path / "home", "import", "--quiet", str(mixed))  # nothing new, but nothing wrong either
    assert again.returncode == 0 and "1 already present" in again.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n[1]\n")
    nothing = run(tmp_path / "home", "import", "--quiet", str(bad))
    assert nothing.returncode == 2 and "imported 0 new requests" in nothing.stdout
    assert nothing.stderr.endswith("heliqa: no request loaded: every line was bad\n")


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_a_closed_pipe_ends_quietly(demo_home, command):
    """`heliqa chat | head -1`: the reader goes away; heliqa stops without a BrokenPipe traceback."""
    args = ["ask", "--tz", "UTC", "--now", NOW, "p90 latency by model last week by hour"]
    if command == "chat":
        args = ["chat", "--tz", "UTC", "--now", NOW]
    environ = {**os.environ, "HELIQA_HOME": str(demo_home)}
    child = subprocess.Popen(
        [sys.executable, "-m", "heliqa.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    if command == "chat":
        child.stdin.write(QUESTION + "\n")
        child.stdin.flush()
        assert child.stdout.readline().startswith("P90 latency")
    child.stdout.close()  # like `head` exiting: every later write hits a closed pipe
    child.stdin.write((QUESTION + "\n") * 3)
    child.stdin.close()
    assert child.wait(timeout=60) == 1
    assert child.stderr.read() == ""


def test_the_readme_example_reproduces(tmp_path):
    """The README's first example: its commands, run on the demo data, print exactly the output it shows."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(\$ heliqa .*?)```", readme, flags=re.DOTALL).group(1)
    shown, commands, output = block.splitlines(), [], []
    for line in shown:
        (commands if line.startswith("$ ") else output).append(line.removeprefix("$ "))
    assert commands[0].startswith("heliqa demo --now ") and commands[1].startswith("heliqa ask ")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_", "OPENAI_"))}
    environ["HELIQA_HOME"] = str(tmp_path)
    printed = []
    for command in commands:
        argv = [sys.executable, "-m", "heliqa.cli", *shlex.split(command)[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=120)
        assert done.returncode == 0, done.stderr
        printed += done.stdout.replace(str(tmp_path), "~/.local/share/heliqa").splitlines()
    assert printed == output
