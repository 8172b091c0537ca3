"""Builds the extension coreclean._coreclean with the project's CMake build (see pyproject.toml).

The CMake build compiles the library and the pybind11 module for the interpreter running pip
(sys.executable); the pure-Python modules come from python/coreclean.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent.resolve()


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        # CORECLEAN_CMAKE_BUILD_DIR: an already configured build folder of this clone (e.g.
        # build/ after `./run build`) whose extension is brought up to date and installed, instead
        # of a fresh build of the library in a folder of its own.
        existing = os.environ.get("CORECLEAN_CMAKE_BUILD_DIR")
        build_dir = pathlib.Path(existing).resolve() if existing else \
            pathlib.Path(self.build_temp).resolve() / "cmake"
        if not existing:
            self.configure(build_dir)
        jobs = os.environ.get("CORECLEAN_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "coreclean_python",
                               "-j", jobs])
        # The module built for this interpreter (a build folder made for another Python holds
        # a module with another ABI tag: refused rather than installed under the wrong name).
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build_dir / "python" / "coreclean" / f"_coreclean{suffix}"
        if not built.is_file():
            sys.exit(f"{built} was not built: {build_dir} is configured for another Python "
                     f"(CORECLEAN_PYTHON) than {sys.executable}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)

    @staticmethod
    def configure(build_dir):
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
            "-DCORECLEAN_BUILD_TESTS=OFF", "-DCORECLEAN_BUILD_BENCHMARKS=OFF",
            "-DCORECLEAN_BUILD_CLI=OFF", f"-DCORECLEAN_PYTHON={sys.executable}"])


# setuptools' work folder: build-python/, beside (not inside) the CMake build folder build/.
setup(ext_modules=[Extension("coreclean._coreclean", sources=[])],
      cmdclass={"build_ext": CMakeBuild},
      options={"build": {"build_base": "build-python"}})
