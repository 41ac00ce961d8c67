"""The README's Python examples run, and its remedy table lists every remedy."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _printed(block: str) -> list:
    """What the block says it prints: the ``# prints: X`` comments, in order."""
    return re.findall(r"#\s*prints:\s*(.+?)\s*$", block, flags=re.M)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_python_examples_run_and_print_what_they_say(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    block = _python_blocks()[index]
    exec(compile(block, f"README block {index}", "exec"), {})
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    position = 0
    for expected in _printed(block):  # each claimed line appears, in order
        assert expected in lines[position:], (expected, lines)
        position = lines.index(expected, position) + 1


def test_remedy_table_lists_every_remedy():
    from raretune.remedies import REMEDIES

    text = README.read_text()
    for name in REMEDIES:
        assert f"| `{name}` |" in text, name


def test_quickstart_is_two_commands_and_ci_runs_the_second():
    text = README.read_text()
    block = re.search(r"## Quickstart\n\n```bash\n(.*?)```", text, flags=re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1] in ci
