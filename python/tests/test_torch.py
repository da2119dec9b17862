"""PyTorch interop: CPU tensors in, tensors out, without copies; bf16 as
torch.bfloat16; an attention layer against scaled_dot_product_attention.
Skipped where torch is not installed (CI has NumPy only; bench/.venv has
torch)."""

import numpy as np
import pytest

import raspc
from conftest import CAUSAL_ATTENTION

torch = pytest.importorskip("torch")


def test_tensors_in_tensor_out_against_sdpa():
    program = raspc.compile(CAUSAL_ATTENTION)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(7, 8, generator=generator)
    wq, wk, wv = (torch.randn(8, 8, generator=generator) * 0.5 for _ in range(3))
    y = program(x, wq=wq, wk=wk, wv=wv)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (7, 8)
    q, k, v = ((x @ w).reshape(7, 2, 4).transpose(0, 1) for w in (wq, wk, wv))
    # dot / 2 with head size 4 is SDPA's 1/sqrt(4).
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(y, expected.transpose(0, 1).reshape(7, 8), atol=2e-5, rtol=1e-4)


def test_result_shares_the_programs_buffer_and_inputs_are_not_copied():
    program = raspc.compile("model m(x: f32[T, 4]) -> f32[T, 4] {\n  return x * 2;\n}\n")
    x = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    argument = program.signature.inputs[0]
    assert raspc._prepare(x, argument) is x
    y = program(x)
    assert y.data_ptr() % 64 == 0
    assert torch.equal(y, x * 2)
    # Mixed NumPy and torch arguments give torch.
    assert isinstance(raspc.compile("model m(x: f32[T, 4], y: f32[T, 4]) -> f32[T, 4] {\n"
                                    "  return x + y;\n}\n")(x, np.ones((2, 4), np.float32)),
                      torch.Tensor)


def test_non_contiguous_and_grad_tensors():
    program = raspc.compile("model m(x: f32[T, 4]) -> f32[T, 4] {\n  return x + 1;\n}\n")
    base = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    torch.testing.assert_close(program(base.t()), base.t() + 1)
    leaf = torch.ones(2, 4, requires_grad=True)
    y = program(leaf)
    assert not y.requires_grad
    torch.testing.assert_close(y, torch.full((2, 4), 2.0))


def test_bf16_and_f16_tensors():
    for dtype, name in ((torch.bfloat16, "bf16"), (torch.float16, "f16")):
        program = raspc.compile(f"model m(x: {name}[T, 4]) -> {name}[T, 4] {{\n"
                                f"  return x + x;\n}}\n")
        x = torch.randn(3, 4).to(dtype)
        y = program(x)
        assert y.dtype == dtype
        torch.testing.assert_close(y, x + x)


def test_ml_dtypes_bfloat16_arrays():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    program = raspc.compile("model m(x: bf16[T, 4]) -> bf16[T, 4] {\n  return x + x;\n}\n")
    x = np.arange(8, dtype=np.float32).reshape(2, 4).astype(ml_dtypes.bfloat16)
    y = program(x)
    assert y.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(y.astype(np.float32), np.arange(8).reshape(2, 4) * 2)


def test_wrong_dtype_and_device():
    program = raspc.compile("model m(x: f32[T, 4]) -> f32[T, 4] {\n  return x;\n}\n")
    with pytest.raises(TypeError, match="input 'x' must be f32, not float64"):
        program(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="input 'x' must be f32, not uint8"):
        program(torch.zeros(2, 4, dtype=torch.uint8))


def test_custom_op_in_a_module_and_under_torch_compile():
    import raspc.torch as raspc_torch

    program = raspc.compile(CAUSAL_ATTENTION)
    generator = torch.Generator().manual_seed(5)
    wq, wk, wv = (torch.randn(8, 8, generator=generator) * 0.5 for _ in range(3))
    program.bind(wq=wq)
    attend = raspc_torch.op(program)
    assert raspc_torch.op(program) is attend
    assert [a.name for a in attend.arguments] == ["x", "wk", "wv"]
    x = torch.randn(6, 8, generator=generator)
    expected = program(x, wk=wk, wv=wv)
    torch.testing.assert_close(attend(x, wk, wv), expected)

    class Block(torch.nn.Module):
        def forward(self, x):
            return x + attend(x, wk, wv)

    compiled = torch.compile(Block(), fullgraph=True)
    torch.testing.assert_close(compiled(x), x + expected)
    # The shape function: sizes follow the inputs' symbols without a run.
    with torch._subclasses.fake_tensor.FakeTensorMode():
        fake = attend(torch.empty(11, 8), torch.empty(8, 8), torch.empty(8, 8))
    assert fake.shape == (11, 8) and fake.dtype == torch.float32


def test_custom_op_backward_is_a_clear_error():
    import raspc.torch as raspc_torch

    program = raspc.compile("model double(x: f32[T, 4]) -> f32[T, 4] {\n  return x * 2;\n}\n")
    double = raspc_torch.op(program, name="double_for_backward_test")
    x = torch.ones(2, 4, requires_grad=True)
    y = double(x)
    with pytest.raises(RuntimeError, match="'double' has no gradient yet"):
        y.sum().backward()
    with torch.inference_mode():
        torch.testing.assert_close(double(torch.ones(2, 4)), torch.full((2, 4), 2.0))
