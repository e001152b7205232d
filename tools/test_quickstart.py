"""Tests for tools/quickstart.py: the README's quickstart block is found and read right."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quickstart  # noqa: E402

BLOCK = """intro
<!-- quickstart:start -->
```bash
# a comment
git clone https://example.org/x/hinton-problems && cd hinton-problems

python3 -m pip install -r requirements.txt && \\
    python3 tools/run_all.py
python3 -m pytest -q
```
<!-- quickstart:end -->
```bash
echo not part of the quickstart
```
"""


def test_extract_commands_reads_only_the_marked_fence():
    assert quickstart.extract_commands(BLOCK) == [
        "git clone https://example.org/x/hinton-problems && cd hinton-problems",
        "python3 -m pip install -r requirements.txt && python3 tools/run_all.py",
        "python3 -m pytest -q",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "no markers",
        "<!-- quickstart:end --> <!-- quickstart:start -->",
        "<!-- quickstart:start -->\nno fence\n<!-- quickstart:end -->",
        "<!-- quickstart:start -->\n```bash\n# only a comment\n```\n<!-- quickstart:end -->",
    ],
)
def test_extract_commands_refuses_a_broken_block(text):
    with pytest.raises(quickstart.QuickstartError):
        quickstart.extract_commands(text)


def test_clone_target():
    assert quickstart.clone_target("git clone https://a/b && cd b") == "b"
    assert quickstart.clone_target("git clone --depth 1 https://a/b c && cd c") == "c"
    assert quickstart.clone_target("python3 -m pytest -q") is None


def test_readme_quickstart_is_clone_then_the_two_commands():
    """The README's block: a clone line, then install+run_all, then install-dev+pytest."""
    text = (quickstart.ROOT / "README.md").read_text(encoding="utf-8")
    commands = quickstart.extract_commands(text)
    rest = [c for c in commands if quickstart.clone_target(c) is None]
    assert len(commands) - len(rest) <= 1
    assert len(rest) == 2, rest
    assert "requirements.txt" in rest[0] and "tools/run_all.py" in rest[0]
    assert "requirements-dev.txt" in rest[1] and "pytest" in rest[1]
