"""Builds the extension coreclean._coreclean with the project's CMake build (see pyproject.toml).

The CMake build compiles the library and the pybind11 module for the interpreter running pip
(sys.executable); the pure-Python modules come from python/coreclean.
"""

import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent.resolve()


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
            "-DCORECLEAN_BUILD_TESTS=OFF", "-DCORECLEAN_BUILD_BENCHMARKS=OFF",
            "-DCORECLEAN_BUILD_CLI=OFF", f"-DCORECLEAN_PYTHON={sys.executable}"])
        jobs = os.environ.get("CORECLEAN_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "coreclean_python",
                               "-j", jobs])
        built = next((build_dir / "python" / "coreclean").glob("_coreclean*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)


setup(ext_modules=[Extension("coreclean._coreclean", sources=[])],
      cmdclass={"build_ext": CMakeBuild})
