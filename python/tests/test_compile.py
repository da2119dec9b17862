"""Compiling from Python: sources, files, options, errors with locations,
signatures and the IR of each stage."""

import pathlib

import pytest

import raspc
from conftest import CAUSAL_ATTENTION, SOURCE_DIR


def test_compile_source_and_signature():
    program = raspc.compile(CAUSAL_ATTENTION)
    assert program.name == "attend" and program.is_model
    signature = program.signature
    assert [a.name for a in signature.inputs] == ["x"]
    assert [a.name for a in signature.parameters] == ["wq", "wk", "wv"]
    x = signature.inputs[0]
    assert x.dtype == "f32" and x.shape == ("T", 8) and not x.parameter
    assert signature.parameters[0].shape == (8, 8) and signature.parameters[0].parameter
    assert signature.result.dtype == "f32" and signature.result.shape == ("T", 8)
    assert str(signature) == "model attend(x: f32[T, 8]) -> f32[T, 8]; 3 parameters"
    assert "3 parameters" in repr(program)


def test_compile_file_by_path_and_by_name():
    path = SOURCE_DIR / "examples" / "rasp" / "sort.rasp"
    for given in (path, str(path)):
        program = raspc.compile(given)
        assert program.name == "sort" and not program.is_model
    assert raspc.compile_file(path).signature.inputs[0].dtype == "i64"


def test_entry_picks_the_def():
    source = "def first(tokens) { return tokens; }\ndef second(tokens) { return indices; }\n"
    assert raspc.compile(source).name == "second"
    assert raspc.compile(source, entry="first").name == "first"


def test_compile_error_carries_locations():
    source = "model m(x: f32[T, 4]) -> f32[T, 4] {\n  return x + y;\n}\n"
    with pytest.raises(raspc.CompileError) as caught:
        raspc.compile(source)
    error = caught.value
    assert isinstance(error, raspc.Error)
    assert (error.file, error.line, error.column) == ("<string>", 2, 14)
    assert error.message.startswith("unknown name 'y'")
    text = str(error)
    assert text.startswith("<string>:2:14: error: unknown name 'y'")
    assert "  return x + y;" in text and text.rstrip().endswith("^")
    first = error.diagnostics[0]
    assert first.severity == "error" and first.source_line == "  return x + y;"


def test_compile_file_error_names_the_file(tmp_path):
    path = tmp_path / "broken.rasp"
    path.write_text("def f(tokens) {\n  return select(tokens);\n}\n")
    with pytest.raises(raspc.CompileError) as caught:
        raspc.compile_file(path)
    assert caught.value.file == str(path) and caught.value.line == 2


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        raspc.compile_file(tmp_path / "absent.rasp")


def test_options_are_checked():
    with pytest.raises(TypeError, match="unknown compile option 'opt'.*opt_level"):
        raspc.compile(CAUSAL_ATTENTION, opt=3)
    with pytest.raises(ValueError, match='target must be "cpu" or "cuda"'):
        raspc.compile(CAUSAL_ATTENTION, target="tpu")
    with pytest.raises(raspc.CompileError, match="opt"):
        raspc.compile(CAUSAL_ATTENTION, opt_level=7)
    assert raspc.compile(CAUSAL_ATTENTION, opt_level=0).name == "attend"


def test_packed_batch_adds_lengths():
    source = "model m(x: f32[T, 2]) -> f32[2] {\n  return mean_pool(x);\n}\n"
    program = raspc.compile(source, packed_batch=True)
    assert [a.name for a in program.signature.inputs] == ["x", "lengths"]
    assert program.signature.inputs[1].dtype == "i32"
    assert program.signature.result.shape == ("B", 2)  # a row per example


def test_ir_of_each_stage():
    program = raspc.compile(CAUSAL_ATTENTION)
    assert "attn.attention" in program.ir("attn")
    assert "func.func @attend" in program.ir("tiled")
    assert "memref" in program.ir("loops")
    assert "llvm.func" in program.ir("llvm-dialect")
    assert "define " in program.ir("llvm")
    assert "attend" in program.ir("header")
    obj = program.emit("obj")
    assert isinstance(obj, bytes) and obj[:4] == b"\x7fELF"
    with pytest.raises(ValueError, match="unknown stage 'optimized'"):
        program.ir("optimized")
    with pytest.raises(ValueError, match="binary"):
        program.ir("obj")


def test_threads_setting():
    count = raspc.num_threads()
    assert count >= 1
    raspc.set_num_threads(1)
    assert raspc.num_threads() == 1
    raspc.set_num_threads(count)
    with pytest.raises(ValueError):
        raspc.set_num_threads(0)
