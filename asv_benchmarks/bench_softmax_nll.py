"""softmax, log_softmax and nll_loss (loss + gradient)."""
import numpy as np

from .common import Suite, get_module, make_labels, make_logits, parse_shape


class SoftmaxFamily(Suite):
    """Row-wise softmax and log_softmax, (n_samples, n_classes) -> same shape."""

    def setup(self, shape, dtype, n_threads, implementation):
        mod = get_module(implementation, n_threads)
        self.softmax = mod.softmax
        self.log_softmax = mod.log_softmax
        self.x = make_logits(parse_shape(shape), dtype)
        self.n_threads = n_threads
        self.softmax(self.x, n_threads=n_threads)  # warm-up (OpenMP team, allocations)

    def time_softmax(self, shape, dtype, n_threads, implementation):
        self.softmax(self.x, n_threads=self.n_threads)

    def peakmem_softmax(self, shape, dtype, n_threads, implementation):
        self.softmax(self.x, n_threads=self.n_threads)

    def time_log_softmax(self, shape, dtype, n_threads, implementation):
        self.log_softmax(self.x, n_threads=self.n_threads)

    def peakmem_log_softmax(self, shape, dtype, n_threads, implementation):
        self.log_softmax(self.x, n_threads=self.n_threads)


class NllLoss(Suite):
    """Mean nll_loss on log-probabilities with integer labels, with its gradient."""

    def setup(self, shape, dtype, n_threads, implementation):
        mod = get_module(implementation, n_threads)
        n_samples, n_classes = parse_shape(shape)
        z = make_logits((n_samples, n_classes), np.float64)
        z -= z.max(axis=1, keepdims=True)
        z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
        self.nll_loss = mod.nll_loss
        self.log_probs = z.astype(dtype)
        self.target = make_labels(n_samples, n_classes)
        self.n_threads = n_threads
        self.nll_loss(self.log_probs, self.target, return_grad=True, n_threads=n_threads)

    def time_nll_loss_grad(self, shape, dtype, n_threads, implementation):
        self.nll_loss(self.log_probs, self.target, return_grad=True, n_threads=self.n_threads)

    def peakmem_nll_loss_grad(self, shape, dtype, n_threads, implementation):
        self.nll_loss(self.log_probs, self.target, return_grad=True, n_threads=self.n_threads)
