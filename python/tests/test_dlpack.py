"""Arrays that only speak DLPack (JAX's, CuPy's, a library's own): read in
place like NumPy's; the result is a NumPy array."""

import importlib.util

import numpy as np
import pytest

import raspc

DOUBLE = "model m(x: f32[T, 4]) -> f32[T, 4] {\n  return x * 2;\n}\n"


class OnlyDLPack:
    """An array object with the DLPack protocol and nothing else."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def test_an_object_with_only_dlpack():
    program = raspc.compile(DOUBLE)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    y = program(OnlyDLPack(x))
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, x * 2)
    with pytest.raises(TypeError, match="input 'x' must be f32, not i64"):
        program(OnlyDLPack(np.zeros((2, 4), np.int64)))


@pytest.mark.skipif(not importlib.util.find_spec("jax"), reason="needs JAX")
def test_jax_arrays():
    import jax.numpy as jnp

    program = raspc.compile(DOUBLE)
    x = jnp.arange(8, dtype=jnp.float32).reshape(2, 4)
    np.testing.assert_array_equal(program(x), np.asarray(x) * 2)
