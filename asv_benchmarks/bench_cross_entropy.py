"""cross_entropy (loss, and fused loss + gradient) and logsumexp."""
from .common import Suite, get_module, make_labels, make_logits, parse_shape


class CrossEntropy(Suite):
    """Mean cross-entropy with integer labels: loss only, and loss + gradient."""

    def setup(self, shape, dtype, n_threads, implementation):
        mod = get_module(implementation, n_threads)
        n_samples, n_classes = parse_shape(shape)
        self.cross_entropy = mod.cross_entropy
        self.logits = make_logits((n_samples, n_classes), dtype)
        self.target = make_labels(n_samples, n_classes)
        self.n_threads = n_threads
        # Warm-up outside the timing: starts the OpenMP thread team (which otherwise
        # lands in the single sample of --quick) and touches the output allocations.
        self.cross_entropy(self.logits, self.target, return_grad=True, n_threads=n_threads)

    def time_loss(self, shape, dtype, n_threads, implementation):
        self.cross_entropy(self.logits, self.target, n_threads=self.n_threads)

    def peakmem_loss(self, shape, dtype, n_threads, implementation):
        self.cross_entropy(self.logits, self.target, n_threads=self.n_threads)

    def time_loss_grad(self, shape, dtype, n_threads, implementation):
        self.cross_entropy(self.logits, self.target, return_grad=True, n_threads=self.n_threads)

    def peakmem_loss_grad(self, shape, dtype, n_threads, implementation):
        self.cross_entropy(self.logits, self.target, return_grad=True, n_threads=self.n_threads)


class LogSumExp(Suite):
    """Row-wise logsumexp, (n_samples, n_classes) -> (n_samples,)."""

    def setup(self, shape, dtype, n_threads, implementation):
        mod = get_module(implementation, n_threads)
        self.logsumexp = mod.logsumexp
        self.x = make_logits(parse_shape(shape), dtype)
        self.n_threads = n_threads
        self.logsumexp(self.x, n_threads=n_threads)  # warm-up, as in CrossEntropy.setup

    def time_logsumexp(self, shape, dtype, n_threads, implementation):
        self.logsumexp(self.x, n_threads=self.n_threads)

    def peakmem_logsumexp(self, shape, dtype, n_threads, implementation):
        self.logsumexp(self.x, n_threads=self.n_threads)
