"""linear_cross_entropy (chunked, never holding the logits) against the naive
NumPy form that materialises X @ coef; SoftmaxRegression against
scikit-learn's LogisticRegression."""
import numpy as np

from .common import DTYPES, N_THREADS, get_module

# (n_samples, n_features, n_classes): the peakmem_ rows show the naive form's
# (n_samples, n_classes) logits and gradient against fastloss's chunk buffers.
LINEAR_SHAPES = ["100000x50x20", "20000x100x500"]


class LinearCrossEntropy:
    """Mean loss and gradients w.r.t. coef and intercept."""

    params = [LINEAR_SHAPES, DTYPES, N_THREADS, ["fastloss", "numpy"]]
    param_names = ["shape", "dtype", "n_threads", "implementation"]
    timeout = 120

    def setup(self, shape, dtype, n_threads, implementation):
        mod = get_module(implementation, n_threads)
        n, n_features, n_classes = (int(s) for s in shape.split("x"))
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((n, n_features)).astype(dtype)
        self.coef = (0.1 * rng.standard_normal((n_features, n_classes))).astype(dtype)
        self.intercept = rng.standard_normal(n_classes).astype(dtype)
        self.y = rng.integers(0, n_classes, n)
        self.fn = mod.linear_cross_entropy
        self.n_threads = n_threads
        self.run()  # warm-up

    def run(self):
        return self.fn(self.X, self.coef, self.y, intercept=self.intercept, return_grad=True,
                       n_threads=self.n_threads)

    def time_loss_grad(self, shape, dtype, n_threads, implementation):
        self.run()

    def peakmem_loss_grad(self, shape, dtype, n_threads, implementation):
        self.run()


class SoftmaxRegressionFit:
    """Fit time of SoftmaxRegression vs LogisticRegression(solver='lbfgs'),
    same C and tol, on a 20000 x 100 x 20 blobs problem."""

    params = [["fastloss", "sklearn"]]
    param_names = ["implementation"]
    timeout = 300
    number = 1
    repeat = 3

    def setup(self, implementation):
        from fastloss.datasets import make_blobs_dataset

        data = make_blobs_dataset(n_samples=20000, n_features=100, n_classes=20,
                                  center_scale=0.3, test_fraction=0.01, seed=0)
        self.X, self.y = data.X_train, data.y_train
        if implementation == "fastloss":
            from fastloss.estimators import SoftmaxRegression

            self.model = SoftmaxRegression(C=1.0, tol=1e-6)
        else:
            try:
                from sklearn.linear_model import LogisticRegression
            except ImportError:
                raise NotImplementedError("scikit-learn is not installed") from None
            self.model = LogisticRegression(C=1.0, tol=1e-6, max_iter=1000)

    def time_fit(self, implementation):
        self.model.fit(self.X, self.y)
