"""Running compiled programs on NumPy arrays: every dtype, results against
NumPy references, zero-copy and strided inputs, parameters bound once, bad
arguments and run-time errors."""

import json
import struct

import numpy as np
import pytest

import raspc
from conftest import CAUSAL_ATTENTION, SOURCE_DIR, causal_attention_reference


@pytest.fixture(scope="module")
def attention():
    return raspc.compile(CAUSAL_ATTENTION)


def weights(rng, *shapes):
    return [rng.standard_normal(s).astype(np.float32) * 0.5 for s in shapes]


def test_attention_matches_numpy(attention, rng):
    x, wq, wk, wv = weights(rng, (5, 8), (8, 8), (8, 8), (8, 8))
    y = attention(x, wq=wq, wk=wk, wv=wv)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (5, 8)
    np.testing.assert_allclose(y, causal_attention_reference(x, wq, wk, wv), atol=2e-5)
    # Positionally, in argument order, too.
    np.testing.assert_array_equal(attention(x, wq, wk, wv), y)


def test_result_is_the_programs_buffer(attention, rng):
    x, wq, wk, wv = weights(rng, (4, 8), (8, 8), (8, 8), (8, 8))
    y = attention(x, wq=wq, wk=wk, wv=wv)
    # Not a copy NumPy made: the runtime's 64-byte aligned allocation, kept
    # alive by the array.
    assert not y.flags.owndata and y.base is not None
    assert y.__array_interface__["data"][0] % 64 == 0
    assert y.flags.c_contiguous and y.flags.writeable


def test_contiguous_inputs_are_passed_as_they_are(attention, rng):
    x = weights(rng, (4, 8))[0]
    argument = attention.signature.inputs[0]
    assert raspc._prepare(x, argument) is x
    strided = np.zeros((4, 16), np.float32)[:, ::2]
    copied = raspc._prepare(strided, argument)
    assert copied is not strided and copied.flags.c_contiguous


def test_strided_and_transposed_inputs(attention, rng):
    x, wq, wk, wv = weights(rng, (6, 16), (8, 8), (8, 8), (8, 8))
    strided = x[:, ::2]
    transposed = np.ascontiguousarray(wq.T).T  # Fortran order
    assert not strided.flags.c_contiguous and not transposed.flags.c_contiguous
    y = attention(strided, wq=transposed, wk=wk, wv=wv)
    np.testing.assert_allclose(y, causal_attention_reference(strided, wq, wk, wv), atol=2e-5)


def test_bind_parameters_once(rng):
    program = raspc.compile(CAUSAL_ATTENTION)
    x, wq, wk, wv = weights(rng, (3, 8), (8, 8), (8, 8), (8, 8))
    assert program.bind({"wq": wq, "wk": wk}) is program
    program.bind(wv=wv)
    assert set(program.bound) == {"wq", "wk", "wv"}
    np.testing.assert_allclose(program(x), causal_attention_reference(x, wq, wk, wv), atol=2e-5)
    # A parameter passed to the call wins over the bound one.
    np.testing.assert_allclose(program(x, wv=2 * wv),
                               causal_attention_reference(x, wq, wk, 2 * wv), atol=4e-5)
    with pytest.raises(TypeError, match="no parameter 'wz'.*closest: .*wq"):
        program.bind(wz=wq)
    with pytest.raises(TypeError, match="no parameter 'x'"):
        program.bind(x=x)


def write_safetensors(path, tensors):
    """The safetensors format, written by hand: an 8-byte header length, a
    JSON header, the raw data."""
    names = {np.float32: "F32", np.int32: "I32"}
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": names[array.dtype.type], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_load_checkpoint_by_name(tmp_path, rng):
    source = ("model m(x: f32[T, 4]) -> f32[T, 3] {\n"
              "  param layer.0.dense.weight: f32[3, 4];\n"
              "  param layer.0.dense.bias: f32[3];\n"
              "  return linear(x, layer.0.dense.weight, layer.0.dense.bias);\n}\n")
    model_path = tmp_path / "dense.rasp"
    model_path.write_text(source)
    w, b, x = weights(rng, (3, 4), (3,), (5, 4))
    checkpoint = tmp_path / "model.safetensors"
    write_safetensors(checkpoint, {"layer.0.dense.weight": w, "layer.0.dense.bias": b,
                                   "unused": np.zeros(2, np.float32)})
    program = raspc.load(model_path, checkpoint)
    np.testing.assert_allclose(program(x), x @ w.T + b, atol=1e-5)

    write_safetensors(checkpoint, {"layer.0.dense.weight": w.T.copy(),
                                   "layer.0.dense.bias": b})
    with pytest.raises(ValueError, match="layer.0.dense.weight"):
        raspc.compile_file(model_path).bind(checkpoint)
    write_safetensors(checkpoint, {"layer.0.dense.weigth": w, "layer.0.dense.bias": b})
    with pytest.raises(ValueError, match="layer.0.dense.weigth"):
        raspc.compile_file(model_path).bind(str(checkpoint))
    with pytest.raises(OSError):
        raspc.compile_file(model_path).bind(tmp_path / "absent.safetensors")


def test_wrong_dtype_rank_and_shape(attention, rng):
    x, wq, wk, wv = weights(rng, (4, 8), (8, 8), (8, 8), (8, 8))
    with pytest.raises(TypeError, match="input 'x' must be f32, not float64"):
        attention(x.astype(np.float64), wq=wq, wk=wk, wv=wv)
    with pytest.raises(TypeError, match="parameter 'wk' must be f32, not i32"):
        attention(x, wq=wq, wk=wk.astype(np.int32), wv=wv)
    with pytest.raises(ValueError, match=r"input 'x' must have shape \[T, 8\], not \[4, 7\]"):
        attention(x[:, :7], wq=wq, wk=wk, wv=wv)
    with pytest.raises(ValueError, match=r"parameter 'wq' must have shape \[8, 8\], not \[8\]"):
        attention(x, wq=wq[0], wk=wk, wv=wv)
    with pytest.raises(TypeError, match="parameter 'wv' of 'attend' is missing"):
        attention(x, wq=wq, wk=wk)
    with pytest.raises(TypeError, match="no argument 'wz'"):
        attention(x, wq=wq, wk=wk, wz=wv)
    with pytest.raises(TypeError, match="given twice"):
        attention(x, wq, x=x, wk=wk, wv=wv)
    with pytest.raises(TypeError, match="takes 4 arguments, got 5"):
        attention(x, wq, wk, wv, wv)
    with pytest.raises(TypeError, match="must be an array"):
        attention(x, wq=wq, wk=wk, wv="weights")


def test_inputs_sharing_a_symbol_must_agree():
    program = raspc.compile("model m(x: f32[T, 2], y: f32[T, 2]) -> f32[T, 2] {\n"
                            "  return x + y;\n}\n")
    with pytest.raises(ValueError, match="input 'y' has T = 3 but input 'x' has T = 2"):
        program(np.zeros((2, 2), np.float32), np.zeros((3, 2), np.float32))


def test_ids_outside_their_table_name_the_position():
    program = raspc.compile("model m(ids: i32[T]) -> f32[T, 2] {\n"
                            "  param table: f32[3, 2];\n  return embed(ids, table);\n}\n")
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(program(np.array([2, 0], np.int32), table=table),
                                  table[[2, 0]])
    with pytest.raises(ValueError, match="input 'ids' at position 1 holds 3, outside the 3 rows "
                                         "of 'table'"):
        program(np.array([0, 3], np.int32), table=table)
    # Python lists become arrays of the declared dtype.
    np.testing.assert_array_equal(program([1, 1], table=table), table[[1, 1]])


def test_half_precision_dtypes(rng):
    for dtype, name in ((np.float16, "f16"), (np.uint16, "bf16")):
        program = raspc.compile(f"model m(x: {name}[T, 4]) -> {name}[T, 4] {{\n"
                                f"  return x + x;\n}}\n")
        x = rng.standard_normal((3, 4)).astype(np.float32)
        if name == "f16":
            data = x.astype(np.float16)
            expected = data.astype(np.float32) * 2
        else:  # bf16 bits: the upper half of an f32, which doubling keeps exact
            data = (x.view(np.uint32) >> 16).astype(np.uint16)
            expected = (data.astype(np.uint32) << 16).view(np.float32) * 2
        y = program(data)
        assert y.dtype == (np.float16 if name == "f16" else np.uint16) or y.dtype.name == "bfloat16"
        got = (y.astype(np.float32) if name == "f16"
               else (y.view(np.uint16).astype(np.uint32) << 16).view(np.float32))
        np.testing.assert_array_equal(got, expected)


def test_integer_and_bool_results():
    sort = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "sort.rasp")
    y = sort(np.array([3, 1, 2, 1], np.int64))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [1, 1, 2, 3])
    dyck = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "dyck1.rasp")
    assert dyck.run_tokens(["(", ")", "(", ")"]) == [1] * 4
    assert dyck.run_tokens([")", "("]) == [0, 0]
    less = raspc.compile("def f(tokens: int) { return tokens < 2; }")
    assert less.signature.result.dtype == "bool"
    assert less.run_tokens([1, 2, 3]) == [True, False, False]
    y = less(np.array([1, 2, 3], np.int64))
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, [True, False, False])


def test_run_tokens_values_and_no_value():
    sort = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "sort.rasp")
    assert sort.run_tokens([3, 1, 2, 1]) == [1, 1, 2, 3]
    shift = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "shift_by.rasp")
    assert shift.run_tokens(["a", "b", "c", "d"]) == [None, None, "a", "b"]
    mean = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "prefix_mean.rasp")
    assert mean.run_tokens([2, 4, 6]) == [2.0, 3.0, 4.0]


def test_run_tokens_selectors():
    reverse = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "reverse.rasp",
                            expose_selectors=True)
    values, selectors = reverse.run_tokens(["a", "b", "c"], selectors=True)
    assert values == ["c", "b", "a"]
    (pattern,) = selectors.values()
    assert pattern.dtype == np.bool_
    np.testing.assert_array_equal(pattern, np.eye(3, dtype=bool)[::-1])


def test_run_tokens_rejects_what_the_input_does_not_take():
    sort = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "sort.rasp")
    with pytest.raises(ValueError, match="'x'"):
        sort.run_tokens([1, "x"])


def test_error_types():
    assert issubclass(raspc.RuntimeError, raspc.Error)
    assert issubclass(raspc.RuntimeError, RuntimeError)
    assert issubclass(raspc.CompileError, raspc.Error)


def test_show_selectors_draws_each_selector():
    import xml.etree.ElementTree as ElementTree

    reverse = raspc.compile(SOURCE_DIR / "examples" / "rasp" / "reverse.rasp")
    (pattern,) = raspc.show_selectors(reverse, ["a", "b", "c"])
    np.testing.assert_array_equal(pattern.selected, np.eye(3, dtype=bool)[::-1])
    assert repr(pattern).splitlines()[1:] == [". . 1", ". 1 .", "1 . ."]
    svg = ElementTree.fromstring(pattern._repr_svg_())
    cells = [e for e in svg.iter() if e.tag.endswith("rect")]
    assert len(cells) == 9
    assert sum(e.get("fill") == "#3465a4" for e in cells) == 3
    labels = [e.text for e in svg.iter() if e.tag.endswith("text")]
    assert labels.count("a") == 2 and pattern.name in labels[0]


def test_bound_weights_packed_once_then_rebound(rng):
    # Matmuls read bound weights from panels packed at the first call; a
    # bind makes them anew, so an array changed in place and bound again
    # is read as it is now.
    program = raspc.compile("model m(x: f32[T, 16]) -> f32[T, 16] {\n"
                            "  param w: f32[16, 16];\n  return linear(x, w);\n}\n")
    x, w = weights(rng, (5, 16), (16, 16))
    program.bind(w=w)
    for _ in range(2):
        np.testing.assert_allclose(program(x), x @ w.T, atol=1e-5)
    w *= 2
    program.bind(w=w)
    np.testing.assert_allclose(program(x), x @ w.T, atol=1e-5)
