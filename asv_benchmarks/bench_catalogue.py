"""Every loss of ``fastloss._registry``: loss, and loss + gradient, for fastloss
and its NumPy reference. Registering a loss adds it here.

Parameters: loss name x shape x dtype x n_threads x implementation. The shapes
hold 1e6 elements each, as one column of samples ("1000000", a 1-D input) and
as 100000 samples of 10 outputs; a loss that does not take a shape's rank is
skipped, as is the single-threaded NumPy reference with n_threads > 1. Data
are the registry's moderate, seeded samples (``LossSpec.sample``), targets in
the input's dtype.
"""
import numpy as np

from fastloss import _registry

from .common import DTYPES, IMPLEMENTATIONS, N_THREADS, get_module

LOSSES = list(_registry.REGISTRY)
SHAPES = ["1000000", "100000x10"]


def parse_shape(shape):
    """'1000000' -> (1000000,); '100000x10' -> (100000, 10)."""
    return tuple(int(part) for part in shape.split("x"))


class _Catalogue:
    params = [LOSSES, SHAPES, DTYPES, N_THREADS, IMPLEMENTATIONS]
    param_names = ["loss", "shape", "dtype", "n_threads", "implementation"]
    timeout = 120
    needs_grad = False

    def setup(self, loss, shape, dtype, n_threads, implementation):
        get_module(implementation, n_threads)     # skips numpy with n_threads > 1
        spec = _registry.REGISTRY[loss]
        shape = parse_shape(shape)
        if len(shape) not in spec.ndims:
            raise NotImplementedError(f"{loss} takes no {len(shape)}-D input")
        if self.needs_grad and not spec.has_grad:
            raise NotImplementedError(f"{loss} has no gradient")
        x, target, kwargs = spec.sample(shape, dtype, np.random.default_rng(0))
        if target is not None and np.asarray(target).dtype.kind == "f":
            target = np.asarray(target).astype(dtype)
        func = spec.fast if implementation == "fastloss" else spec.reference
        self.call = lambda **kw: spec.call(func, x, target, n_threads=n_threads, **kwargs, **kw)
        # warm-up outside the timing: the OpenMP team, the output allocations
        self.call(return_grad=True) if spec.has_grad else self.call()


class CatalogueLoss(_Catalogue):
    """The loss alone, default reduction."""

    def time_loss(self, loss, shape, dtype, n_threads, implementation):
        self.call()

    def peakmem_loss(self, loss, shape, dtype, n_threads, implementation):
        self.call()


class CatalogueLossGrad(_Catalogue):
    """Loss and gradient in one call (return_grad=True), default reduction."""

    needs_grad = True

    def time_loss_grad(self, loss, shape, dtype, n_threads, implementation):
        self.call(return_grad=True)

    def peakmem_loss_grad(self, loss, shape, dtype, n_threads, implementation):
        self.call(return_grad=True)
