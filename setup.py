"""Build the Cython kernels with OpenMP when the compiler supports it.

Flags: -O3 plus -fno-math-errno/-fno-trapping-math, which let gcc vectorise the
branch-free row loops while keeping IEEE inf/nan semantics (-ffast-math would
break them, see ../shared/notes). No -march=native: the wheel must run on any
x86-64.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_FLAG = "-fopenmp"
SAFE_MATH_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math"]


OPENMP_PROGRAM = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) { int n = 0;
    #pragma omp parallel reduction(+:n)
      n += 1;
      return omp_get_max_threads() > 0 && n > 0 ? 0 : 1; }
    """
)


def compiler_accepts(compiler, flags, source="int main(void) { return 0; }\n"):
    """Compile, link and run `source` with `flags` using the build's own compiler."""
    tmpdir = tempfile.mkdtemp()
    try:
        path = os.path.join(tmpdir, "check.c")
        with open(path, "w") as f:
            f.write(source)
        objects = compiler.compile([path], output_dir=tmpdir, extra_postargs=flags)
        compiler.link_executable(objects, "check", output_dir=tmpdir, extra_postargs=flags)
        subprocess.check_call([os.path.join(tmpdir, "check")])
        return True
    except Exception:  # any compile, link or run failure means "not supported"
        return False
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        # FASTLOSS_NO_OPENMP=1 builds as a compiler without OpenMP would (to test that path).
        has_openmp = (os.environ.get("FASTLOSS_NO_OPENMP") != "1"
                      and compiler_accepts(self.compiler, [OPENMP_FLAG], OPENMP_PROGRAM))
        if not has_openmp:
            banner = "!" * 78
            message = (
                f"\n{banner}\nfastloss: the C compiler has no OpenMP support; the kernels will be "
                "built SERIAL.\nfastloss.openmp_enabled() will return False and importing "
                "fastloss will warn.\nInstall an OpenMP-capable compiler (gcc, or clang with "
                f"libomp) and rebuild.\n{banner}\n"
            )
            sys.stderr.write(message)
            if os.environ.get("FASTLOSS_REQUIRE_OPENMP") == "1":
                raise RuntimeError("FASTLOSS_REQUIRE_OPENMP=1 but the compiler has no OpenMP")
        for ext in self.extensions:
            ext.extra_compile_args = (SAFE_MATH_FLAGS
                                      + ([OPENMP_FLAG] if has_openmp else ["-fopenmp-simd"]))
            ext.extra_link_args = [OPENMP_FLAG] if has_openmp else []
        super().build_extensions()


# One extension per kernel module; all share the C headers in src/fastloss.
KERNEL_MODULES = ("_kernels", "_elementwise", "_multiclass")
extensions = [
    Extension(
        f"fastloss.{name}",
        sources=[f"src/fastloss/{name}.pyx"],
        include_dirs=["src/fastloss"],
        depends=sorted(glob.glob("src/fastloss/*.h")),   # rebuild when a header changes
        libraries=["m"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
