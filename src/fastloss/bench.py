"""Side-by-side timing of fused softmax cross-entropy loss + gradient.

Run as ``python -m fastloss.bench``. For every case (shape x dtype) the
implementations below are timed *interleaved* in one process (each repeat
calls every implementation once, in turn, after one warm-up call each), so
that machine noise hits all of them alike; the table reports the median and
the minimum of the repeats and the speed-up over the pure-NumPy reference
(``NumPy ms / ms``, so > 1 means faster than NumPy).

Implementations (a peer appears only when it is importable; none is required):

``fastloss``
    ``fastloss.cross_entropy(logits, target, return_grad=True)`` with the
    default ``n_threads`` (``--threads`` overrides it); mean reduction.
``numpy``
    ``fastloss._reference.cross_entropy`` with the same arguments: the
    pure-NumPy oracle of the test-suite.
``sklearn``
    ``sklearn._loss.loss.HalfMultinomialLoss(n_classes=C).loss_gradient(
    y_true=float labels, raw_prediction=logits, n_threads=T)``. Despite the
    "Half" in its name this is the *full* multinomial cross-entropy,
    ``logsumexp(z_i) - z_i[y_i]`` per row (checked: its per-row losses sum to
    ``fastloss.cross_entropy(..., reduction="sum")`` and its gradient equals
    fastloss's "sum" gradient to rounding). It returns per-row losses (no
    reduction) and the gradient of their sum; the work per element is the
    same as for the mean.
``torch``
    ``torch.nn.functional.cross_entropy`` forward + ``backward()`` through
    autograd on CPU with ``torch.set_num_threads(T)``, on tensors sharing the
    NumPy buffers (``torch.from_numpy``).

``T`` (peers' threads) is ``--threads`` or, by default, the number of CPUs
this process may run on. Every implementation allocates its own outputs,
as a user calling it would; with ``--compare`` two more rows show the
training-loop form that reuses one output buffer per call (``[out]``):
``fastloss[out]`` (``grad_out=``) and ``sklearn[out]`` (``loss_out=`` and
``gradient_out=``). A fresh gradient costs page faults and the kernel's
zeroing of new memory, which is a large share of the time on big arrays; the
copy bandwidth probe writes into an existing buffer too, so the ``% copy bw``
of ``fastloss[out]`` is the like-for-like figure. ``vs best peer`` compares
allocating rows with allocating peers and ``[out]`` rows with ``sklearn[out]``,
torch and numpy.

``--compare`` adds, for fastloss, the speed-up over the best peer (the
fastest of numpy / sklearn / torch), ``fastloss[1t]`` and ``fastloss[out,1t]``
rows (one thread, for the thread scaling with and without the page faults of
a fresh gradient), the effective bandwidth ``GB/s`` (bytes of logits read
+ gradient written + labels read, divided by the median time) as a
fraction of the machine's copy bandwidth, and a loss-only table whose
bandwidth is compared with the read bandwidth. Both bandwidths are measured
in the same run, timed interleaved with the implementations, over the case's
own logits array, with ``T`` Python threads each running
``np.bitwise_or.reduce`` over the block's bytes as unsigned integers (read)
or ``np.copyto`` (copy; read + write bytes counted) over its own contiguous
block of rows (NumPy releases the GIL in both). ``np.add.reduce`` is timed
too and shown beside it: on float32 it is bound by its pairwise summation
(about 25 GB/s per core on the Zen 4 host, against 35-45 GB/s for the
integer OR), so it understates the read bandwidth. Three ``floor:``
rows time plain copies of the logits, the least memory traffic of any
loss+gradient: into an existing buffer with ``T`` threads and with one, and
into a fresh array (page faults included); their ``vs best peer`` is the
largest speed-up any implementation of that form could show in this run
(see :func:`bandwidth_probes`).

Examples::

    python -m fastloss.bench                       # the README table
    python -m fastloss.bench --quick --repeat 1    # smoke test, a few seconds
    python -m fastloss.bench --compare --dtype float32 --shapes 1024x32000
    python -m fastloss.bench --estimators          # SoftmaxRegression vs LogisticRegression

``--catalogue`` and ``--estimators`` print their own tables instead (see
:func:`run_catalogue` and :func:`run_estimators`).
"""
import argparse
import functools
import gc
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

FULL_SHAPES = ((1_000_000, 10), (100_000, 100), (10_000, 1000), (1024, 32000))
QUICK_SHAPES = ((20_000, 10), (2000, 100), (200, 1000), (16, 32000))
DTYPES = ("float32", "float64")
PEERS = ("numpy", "sklearn", "torch")
PEERS_OUT = ("numpy", "sklearn[out]", "torch")   # peers of the buffer-reusing rows


# ---------------------------------------------------------------------------
# Timing helpers (also used by ``python -m fastloss demo``)
# ---------------------------------------------------------------------------

def time_calls(funcs, repeat, warmup=1, warm_each=False):
    """Time zero-argument callables interleaved; return {name: [seconds, ...]}.

    ``funcs`` maps a name to a callable. Each callable is called ``warmup``
    times first, then every repeat calls each callable once in turn. With
    ``warm_each``, every timed call follows an untimed call of the same
    callable, so each is timed in the steady state of back-to-back calls (as
    in a training loop): not just after another implementation, whose idle
    threads or cores the machine may still be parking or waking (on this
    project's 2-vCPU VM a two-thread call straight after a long one-thread
    call ran up to 1.3x slower). The garbage collector is disabled while
    timing (as in ``timeit``); results of the calls are dropped at once so
    their memory is reused.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    for fn in funcs.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in funcs}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, fn in funcs.items():
                if warm_each:
                    fn()
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


def usable_cpus():
    """CPUs this process may run on (affinity mask), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_model():
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cpu_simd_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [x for x in ("sse4_2", "avx", "avx2", "fma", "avx512f")
                            if x in flags]
    except OSError:
        pass
    return []


def _version(modname):
    try:
        mod = __import__(modname)
    except Exception:  # a peer that fails to import is simply absent
        return None
    return getattr(mod, "__version__", "?")


def machine_description():
    """Lines describing the machine and the software versions."""
    import fastloss

    try:
        from fastloss._threads import resolve_n_threads

        default_threads = resolve_n_threads(None)
    except Exception:  # private helper; its absence only shortens the description
        default_threads = "?"
    lines = [
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, "
        f"{usable_cpus()} usable; SIMD: {' '.join(_cpu_simd_flags()) or 'n/a'})",
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"fastloss {fastloss.__version__} (openmp_enabled={fastloss.openmp_enabled()}, "
        f"default n_threads={default_threads})",
    ]
    peers = [f"{name} {v}" for name, v in (("scikit-learn", _version("sklearn")),
                                            ("torch", _version("torch"))) if v]
    lines.append("peers: " + (", ".join(peers) if peers else "none importable"))
    return lines


# ---------------------------------------------------------------------------
# Cases and implementations
# ---------------------------------------------------------------------------

def make_case(n_samples, n_classes, dtype, seed=0):
    """Seeded logits (standard normal * 3) and int64 labels."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n_samples, n_classes), dtype=np.float64)
    logits *= 3.0
    logits = logits.astype(dtype, copy=False)
    target = rng.integers(0, n_classes, size=n_samples, dtype=np.int64)
    return logits, target


def _sklearn_loss_grad(logits, target, threads, reuse_buffers=False):
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
    except Exception:
        return None
    loss = HalfMultinomialLoss(n_classes=logits.shape[1])
    y_true = target.astype(logits.dtype)
    buffers = {}
    if reuse_buffers:
        buffers = dict(loss_out=np.empty(logits.shape[0], dtype=logits.dtype),
                       gradient_out=np.empty_like(logits))

    def run():
        return loss.loss_gradient(y_true=y_true, raw_prediction=logits, n_threads=threads,
                                  **buffers)

    return run


def _torch_loss_grad(logits, target):
    try:
        import torch
        import torch.nn.functional as F
    except Exception:
        return None
    x0 = torch.from_numpy(logits)
    t = torch.from_numpy(target)

    def run():
        x = x0.detach().requires_grad_(True)
        loss = F.cross_entropy(x, t)
        loss.backward()
        return loss.item(), x.grad

    return run


def loss_grad_impls(logits, target, n_threads, peer_threads, compare):
    """Name -> zero-argument callable computing loss and gradient."""
    import fastloss
    from fastloss import _reference

    impls = {
        "fastloss": lambda: fastloss.cross_entropy(logits, target, return_grad=True,
                                                   n_threads=n_threads),
    }
    if compare and n_threads != 1:
        impls["fastloss[1t]"] = lambda: fastloss.cross_entropy(
            logits, target, return_grad=True, n_threads=1)
    if compare:
        grad_buffer = np.empty_like(logits)
        impls["fastloss[out]"] = lambda: fastloss.cross_entropy(
            logits, target, return_grad=True, grad_out=grad_buffer, n_threads=n_threads)
        if n_threads != 1:
            impls["fastloss[out,1t]"] = lambda: fastloss.cross_entropy(
                logits, target, return_grad=True, grad_out=grad_buffer, n_threads=1)
    impls["numpy"] = lambda: _reference.cross_entropy(logits, target, return_grad=True)
    sk = _sklearn_loss_grad(logits, target, peer_threads)
    if sk is not None:
        impls["sklearn"] = sk
        if compare:
            impls["sklearn[out]"] = _sklearn_loss_grad(logits, target, peer_threads, True)
    th = _torch_loss_grad(logits, target)
    if th is not None:
        impls["torch"] = th
    return impls


def loss_only_impls(logits, target, n_threads):
    import fastloss
    from fastloss import _reference

    return {
        "fastloss": lambda: fastloss.cross_entropy(logits, target, n_threads=n_threads),
        "numpy": lambda: _reference.cross_entropy(logits, target),
    }


# ---------------------------------------------------------------------------
# Bandwidth reference (for --compare)
# ---------------------------------------------------------------------------

def bandwidth_probes(array, pool, threads):
    """Zero-argument callables timing the memory traffic of ``array``.

    ``read bandwidth`` runs ``np.bitwise_or.reduce`` over the bytes viewed as
    unsigned integers of the item's size (a reduction cheap enough to run at
    the memory's rate whatever the dtype), ``add.reduce`` the float
    ``np.add.reduce`` (for comparison: slower than the memory on float32) and
    ``copy bandwidth`` ``np.copyto`` into a preallocated twin, each over one
    contiguous block of rows per worker of ``threads`` (``pool`` must have
    that many workers; NumPy releases the GIL in all three). GB/s:
    ``array.nbytes / t`` (reads),
    ``2 * array.nbytes / t`` (copy: bytes read + bytes written). The copies
    are also the floors of the loss+gradient rows (a kernel reads the logits
    and writes a gradient of the same size at least once):

    ``floor:copy``
        the copy probe: the least time of any ``[out]`` row;
    ``floor:copy[1t]``
        the same copy, block after block, on one thread: ``floor:copy[1t] /
        floor:copy`` is how much ``threads`` threads speed up memory-bound work
        on this machine (the blocks are the same, so glibc picks the same kind
        of stores: it streams copies larger than a fraction of the L3 cache
        past the caches, and those are faster);
    ``floor:fresh_copy``
        ``np.empty_like`` then the threads' ``np.copyto`` into it: the least
        time of any implementation that returns a new gradient (the page
        faults and the kernel's zeroing of new memory included).

    They are timed interleaved with the implementations, so the floors and
    the kernels see the same machine state.
    """
    n_rows = array.shape[0]
    bounds = np.linspace(0, n_rows, min(threads, n_rows) + 1).astype(int)
    blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    dst = np.empty_like(array)
    dst.fill(0)  # touch the pages once, outside the timing

    unsigned = np.dtype(f"u{array.dtype.itemsize}")

    def read():
        return list(pool.map(lambda s: np.bitwise_or.reduce(array[s].ravel().view(unsigned)),
                             blocks))

    def add_reduce():
        return list(pool.map(lambda s: np.add.reduce(array[s].ravel()), blocks))

    def copy_into(target):
        return list(pool.map(lambda s: np.copyto(target[s], array[s]), blocks))

    def copy_serially():
        for s in blocks:
            np.copyto(dst[s], array[s])

    def fresh_copy():
        fresh = np.empty_like(array)
        copy_into(fresh)
        return fresh

    return {"read bandwidth": read, "add.reduce": add_reduce, "floor:copy": lambda: copy_into(dst),
            "floor:copy[1t]": copy_serially, "floor:fresh_copy": fresh_copy}


# ---------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------

def _fmt_ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 10 else f"{ms:.1f}" if ms < 1000 else f"{ms:.0f}"


def _fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def _print_table(header, rows, out):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    right = [i for i, h in enumerate(header) if h not in ("shape", "dtype", "implementation")]

    def line(cells):
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    print(line(header), file=out)
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                         for i, w in enumerate(widths)) + "|", file=out)
    for r in rows:
        print(line(r), file=out)


def parse_shapes(text):
    """'1000000x10,1e5x100' -> [(1000000, 10), (100000, 100)]."""
    shapes = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            n, c = item.split("x")
            shape = (int(float(n)), int(float(c)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad shape {item!r}: expected N_SAMPLESxN_CLASSES, e.g. 100000x100") from None
        if shape[0] < 1 or shape[1] < 1:
            raise argparse.ArgumentTypeError(f"bad shape {item!r}: sizes must be >= 1")
        shapes.append(shape)
    if not shapes:
        raise argparse.ArgumentTypeError("no shape given")
    return shapes


def run_catalogue(args, repeat, dtypes, out):
    """Every registered loss, fastloss vs its NumPy twin, loss and loss+grad
    (default reduction), timed interleaved; 2-D inputs of 10 columns (entropy,
    the multi-class losses) or 1-D inputs otherwise."""
    from . import _registry

    n_elements = 100_000 if args.quick else 10_000_000
    print(f"loss catalogue on {n_elements:.0e} elements; median of {repeat} interleaved repeats "
          f"after a warm-up; fastloss n_threads={args.threads or 'default'}; "
          "'vs numpy' = NumPy ms / ms", file=out)
    rows = []
    for spec in _registry.specs():
        shape = (n_elements,) if 1 in spec.ndims else (n_elements // 10, 10)
        for dtype in dtypes:
            x, target, kwargs = spec.sample(shape, dtype, np.random.default_rng(0))
            if target is not None and np.asarray(target).dtype.kind == "f":
                target = np.asarray(target).astype(dtype)
            modes = {"loss": {}}
            if spec.has_grad:
                modes["loss+grad"] = {"return_grad": True}
            impls = {}
            for mode, kw in modes.items():
                impls[("fastloss", mode)] = functools.partial(
                    spec.call, spec.fast, x, target, n_threads=args.threads, **kwargs, **kw)
                impls[("numpy", mode)] = functools.partial(
                    spec.call, spec.reference, x, target, **kwargs, **kw)
            times = time_calls(impls, repeat)
            med = {k: statistics.median(v) for k, v in times.items()}
            for mode in modes:
                fast, slow = med[("fastloss", mode)], med[("numpy", mode)]
                rows.append([spec.name, "x".join(map(str, shape)), dtype, mode, _fmt_ms(fast),
                             _fmt_ms(slow), _fmt_ratio(slow / fast)])
    print(file=out)
    _print_table(["loss", "shape", "dtype", "mode", "fastloss ms", "numpy ms", "vs numpy"],
                 rows, out)
    return 0


def estimator_problems(quick):
    """(name, X_train, y_train, X_test, y_test, C) of the --estimators table."""
    from .datasets import digits_train_test, make_blobs_dataset

    X_tr, y_tr, X_te, y_te, source = digits_train_test()
    label = "digits" if source.startswith("sklearn") else "digits-like"
    problems = [(f"{label} {len(y_tr)}x64, 10 classes", X_tr, y_tr, X_te, y_te, 1.0)]
    n = 5_000 if quick else 200_000
    data = make_blobs_dataset(n_samples=n + n // 4, n_features=100, n_classes=20,
                              center_scale=0.3, test_fraction=0.2, seed=0)
    problems.append((f"blobs {n}x100, 20 classes", data.X_train, data.y_train, data.X_test,
                     data.y_test, 1.0))
    return problems


def estimator_fits(X, y, C, tol, threads):
    """{name: fit() -> (coef (n_classes, n_features), intercept, n_iter)}: fastloss's
    SoftmaxRegression, scikit-learn's LogisticRegression as is and with its BLAS
    on one thread (when installed), and L-BFGS-B on the NumPy reference objective."""
    import warnings

    from .__main__ import numpy_reference_fit
    from .estimators import SoftmaxRegression

    def ours():
        m = SoftmaxRegression(C=C, tol=tol, n_threads=threads).fit(X, y)
        return m.coef_, m.intercept_, int(m.n_iter_[0])

    fits = {"fastloss": ours, "numpy": lambda: numpy_reference_fit(X, y, C, tol, 1000)}
    try:
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits
    except ImportError:
        return fits

    def sklearn_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LogisticRegression(C=C, tol=tol, max_iter=1000).fit(X, y)
        return m.coef_, m.intercept_, int(m.n_iter_[0])

    def sklearn_one_blas_thread():
        with threadpool_limits(1, user_api="blas"):
            return sklearn_fit()

    fits["sklearn"] = sklearn_fit
    fits["sklearn[blas=1]"] = sklearn_one_blas_thread
    return fits


def run_estimators(args, repeat, out):
    """SoftmaxRegression vs LogisticRegression(solver="lbfgs") (and the NumPy
    objective): fit time, iterations, objective at each solution, accuracy."""
    from .estimators import _objective_at

    tol = 1e-6
    print(f"estimators: fit wall time, median of {repeat} interleaved fits (no warm-up); "
          f"C=1, tol={tol}, max_iter=1000; objective = LogisticRegression's, evaluated by "
          "fastloss at each solution; 'vs sklearn' = fit time / sklearn's (< 1 is faster)",
          file=out)
    rows = []
    for name, X, y, X_test, y_test, C in estimator_problems(args.quick):
        fits = estimator_fits(X, y, C, tol, args.threads)
        results = {}

        def keep(key, fit):
            return lambda: results.__setitem__(key, fit())

        times = time_calls({k: keep(k, f) for k, f in fits.items()}, repeat, warmup=0)
        classes = np.unique(y)
        ours_obj = None
        for key, (coef, intercept, n_iter) in results.items():
            obj = _objective_at(X, y, coef, intercept, C)
            ours_obj = obj if key == "fastloss" else ours_obj
            acc = [float(np.mean(classes[np.argmax(Xs @ coef.T + intercept, axis=1)] == ys))
                   for Xs, ys in ((X, y), (X_test, y_test))]
            med = statistics.median(times[key])
            vs = (_fmt_ratio(med / statistics.median(times["sklearn"]))
                  if "sklearn" in times else "")
            rows.append([name, key, f"{med:.3f}", f"{min(times[key]):.3f}", str(n_iter),
                         f"{obj:.10f}", f"{(obj - ours_obj) / abs(ours_obj):+.1e}",
                         f"{acc[0]:.4f}", f"{acc[1]:.4f}", vs])
    print(file=out)
    _print_table(["problem", "implementation", "fit s", "min s", "iter", "objective",
                  "rel. to fastloss", "train acc", "test acc", "vs sklearn"], rows, out)
    return 0


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m fastloss.bench",
        description="Time fused cross-entropy loss+gradient: fastloss vs the NumPy "
                    "reference, scikit-learn's _loss and torch (when importable).")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repeats per implementation and case (default 7, 3 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="small shapes, for a smoke test (a few seconds)")
    p.add_argument("--compare", action="store_true",
                   help="also print the speed-up over the best peer, 1-thread fastloss, "
                        "GB/s vs the read/copy bandwidth measured in this run, and loss-only")
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    p.add_argument("--shapes", type=parse_shapes, default=None,
                   help="comma-separated N_SAMPLESxN_CLASSES list (default: "
                        + ",".join(f"{n}x{c}" for n, c in FULL_SHAPES) + ")")
    p.add_argument("--catalogue", action="store_true",
                   help="time every loss of fastloss._registry (loss, and loss+grad) against "
                        "its NumPy reference instead, on 1e7 elements (1e5 with --quick)")
    p.add_argument("--estimators", action="store_true",
                   help="time SoftmaxRegression against scikit-learn's LogisticRegression "
                        "(lbfgs) on digits and a 200000x100x20 problem (5000 with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="n_threads for fastloss and the peers (default: fastloss's own "
                        "default; peers and the bandwidth use the usable CPU count)")
    return p


def main(argv=None, out=None):
    """Run the benchmark and print the table(s); return 0."""
    out = sys.stdout if out is None else out
    args = build_parser().parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 7)
    if repeat < 1:
        build_parser().error(f"--repeat must be >= 1, got {repeat}")
    if args.threads is not None and args.threads < 1:
        build_parser().error(f"--threads must be >= 1, got {args.threads}")
    shapes = args.shapes or (QUICK_SHAPES if args.quick else FULL_SHAPES)
    dtypes = DTYPES if args.dtype == "both" else (args.dtype,)
    peer_threads = args.threads or usable_cpus()

    for line in machine_description():
        print(line, file=out)
    if args.catalogue:
        return run_catalogue(args, repeat, dtypes, out)
    if args.estimators:
        return run_estimators(args, 3 if args.repeat is None else repeat, out)
    print(f"fused cross_entropy loss+grad; median of {repeat} interleaved repeats after "
          f"a warm-up; fastloss n_threads={args.threads or 'default'}, peers "
          f"{peer_threads} threads; 'vs numpy' = NumPy ms / ms", file=out)

    torch_threads = None
    try:
        import torch
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(peer_threads)
    except Exception:
        pass

    header = ["shape", "dtype", "implementation", "ms", "min ms", "vs numpy"]
    if args.compare:
        header += ["vs best peer", "GB/s", "% copy bw"]
    rows, lo_rows = [], []
    pool = ThreadPoolExecutor(max_workers=peer_threads) if args.compare else None
    try:
        for n, c in shapes:
            for dtype in dtypes:
                logits, target = make_case(n, c, dtype)
                impls = loss_grad_impls(logits, target, args.threads, peer_threads, args.compare)
                if args.compare:
                    lo_impls = loss_only_impls(logits, target, args.threads)
                    impls.update({f"{k} (loss only)": f for k, f in lo_impls.items()})
                    impls.update(bandwidth_probes(logits, pool, peer_threads))
                times = time_calls(impls, repeat, warm_each=True)
                del impls
                med = {k: statistics.median(v) for k, v in times.items()}
                if args.compare:
                    read_bw = logits.nbytes / med.pop("read bandwidth") / 1e9
                    add_bw = logits.nbytes / med.pop("add.reduce") / 1e9
                    copy_bw = 2 * logits.nbytes / med["floor:copy"] / 1e9
                    best_peer = min(med[k] for k in PEERS if k in med)
                    best_peer_out = min(med[k] for k in PEERS_OUT if k in med)
                for name in med:
                    if name.endswith("(loss only)"):
                        continue
                    floor = name.startswith("floor")
                    row = [f"{n}x{c}", dtype, name, _fmt_ms(med[name]), _fmt_ms(min(times[name])),
                           "" if floor else _fmt_ratio(med["numpy"] / med[name])]
                    if args.compare:
                        if name.startswith("fastloss") or floor:
                            # logits read + gradient written (+ labels read by the losses)
                            nbytes = 2 * logits.nbytes + (0 if floor else target.nbytes)
                            gbs = nbytes / med[name] / 1e9
                            reuses_buffer = "[out" in name or name in ("floor:copy",
                                                                       "floor:copy[1t]")
                            peer = best_peer_out if reuses_buffer else best_peer
                            row += [_fmt_ratio(peer / med[name]), f"{gbs:.1f}",
                                    f"{100 * gbs / copy_bw:.0f}%"]
                        else:
                            row += ["", "", ""]
                    rows.append(row)
                if args.compare:
                    np_lo = med["numpy (loss only)"]
                    for name in ("fastloss", "numpy"):
                        t = med[f"{name} (loss only)"]
                        gbs = (logits.nbytes + target.nbytes) / t / 1e9
                        lo_rows.append([f"{n}x{c}", dtype, name, _fmt_ms(t),
                                        _fmt_ms(min(times[f"{name} (loss only)"])),
                                        _fmt_ratio(np_lo / t), f"{gbs:.1f}",
                                        f"{100 * gbs / read_bw:.0f}%",
                                        f"{100 * gbs / add_bw:.0f}%",
                                        f"{read_bw:.1f} / {add_bw:.1f} / {copy_bw:.1f}"])
                del logits, target
    finally:
        if pool is not None:
            pool.shutdown()
        if torch_threads is not None:
            import torch
            torch.set_num_threads(torch_threads)

    print(file=out)
    _print_table(header, rows, out)
    if args.compare:
        print(file=out)
        print("loss only (no gradient, mean); GB/s = (logits + labels bytes) / median ms. "
              "Read / add.reduce / copy bandwidth: median of np.bitwise_or.reduce (bytes as "
              "unsigned integers) / np.add.reduce / np.copyto over the logits with "
              f"{peer_threads} threads, timed interleaved with the rows above:", file=out)
        _print_table(["shape", "dtype", "implementation", "ms", "min ms", "vs numpy",
                      "GB/s", "% read bw", "% add.reduce", "read / add.reduce / copy GB/s"],
                     lo_rows, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
