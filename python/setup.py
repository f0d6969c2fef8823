"""Build step of the automodel package: libautomodel.so is built from this checkout with CMake
(the repository root is this folder's parent) and copied into the package. When the folder is not
inside a checkout, nothing is built and the package finds an installed library at run time
(AUTOMODEL_LIBRARY, then the system's loader path).

Environment: AUTOMODEL_CMAKE_BUILD_DIR reuses a CMake build tree (default: python/build/cmake);
AUTOMODEL_SKIP_BUILD=1 builds nothing."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class BuildWithCMake(build_py):
    def run(self):
        super().run()
        if os.environ.get("AUTOMODEL_SKIP_BUILD") == "1":
            return
        if not (os.path.exists(os.path.join(REPO, "CMakeLists.txt")) and
                os.path.exists(os.path.join(REPO, "include", "automodel.h"))):
            print("automodel: not inside an automodel checkout; the installed libautomodel.so will be used")
            return
        bdir = os.environ.get("AUTOMODEL_CMAKE_BUILD_DIR") or os.path.join(HERE, "build", "cmake")
        cmake = shutil.which("cmake")
        if not cmake:
            raise RuntimeError("cmake is needed to build libautomodel.so (apt-get install cmake; "
                               "see scripts/install-deps.sh)")
        if not os.path.exists(os.path.join(bdir, "CMakeCache.txt")):
            subprocess.check_call([cmake, "-S", REPO, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DAM_BUILD_TESTS=OFF", "-DAM_BUILD_BENCH=OFF"])
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.check_call([cmake, "--build", bdir, "--target", "automodel_shared", "-j", jobs])
        lib = os.path.join(bdir, "libautomodel.so")
        real = os.path.realpath(lib)
        if not os.path.exists(real):
            raise RuntimeError(f"the CMake build did not produce {lib}")
        dest = os.path.join(self.build_lib, "automodel", "libautomodel.so")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(real, dest)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # the wheel carries a native library: tag it for this platform


setup(cmdclass={"build_py": BuildWithCMake}, distclass=BinaryDistribution)
