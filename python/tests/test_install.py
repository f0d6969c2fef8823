"""The package installs offline into a fresh venv (--system-site-packages: Debian's numpy and
setuptools) with `pip install --no-build-isolation --no-index ./python`, which builds
libautomodel.so through CMake; then the issue's Done-when command prints transformers' result.
Under ctest the CMake step reuses the test build tree (AUTOMODEL_CMAKE_BUILD_DIR, set from
AUTOMODEL_LIBRARY's folder) so it only checks the library is up to date; AUTOMODEL_TEST_FRESH_BUILD=1
builds from scratch in the venv's folder instead."""
import os
import re
import subprocess
import sys

from conftest import ROOT

DONE_WHEN = ("from automodel import pipeline; print(pipeline('text-classification', "
             "model='models/sms-spam-bert')('WINNER! Claim your prize'))")


def test_pip_install_in_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.check_call(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)])
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOMODEL_LIBRARY", "PYTHONPATH", "LD_PRELOAD")}
    if os.environ.get("AUTOMODEL_TEST_FRESH_BUILD") == "1":
        env["AUTOMODEL_CMAKE_BUILD_DIR"] = str(tmp_path / "cmake")
    elif os.environ.get("AUTOMODEL_LIBRARY"):
        env["AUTOMODEL_CMAKE_BUILD_DIR"] = os.path.dirname(os.environ["AUTOMODEL_LIBRARY"])
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index",
                          os.path.join(ROOT, "python")], env=env, capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    run_env = {k: v for k, v in env.items() if k != "AUTOMODEL_CMAKE_BUILD_DIR"}
    if os.environ.get("LD_PRELOAD"):  # the sanitizer build's library needs its runtime first
        run_env["LD_PRELOAD"] = os.environ["LD_PRELOAD"]
    where = subprocess.run([str(venv / "bin" / "python3"), "-c", "import automodel; print(automodel.LIB_PATH)"],
                           cwd=str(tmp_path), env=run_env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the package's own copy of the library
    out = subprocess.run([str(venv / "bin" / "python3"), "-c", DONE_WHEN], cwd=ROOT, env=run_env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"\[\{'label': 'spam', 'score': 0\.99\d+\}\]\n", out.stdout), out.stdout
