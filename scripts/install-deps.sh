#!/usr/bin/env bash
# Installs everything automodel needs to build and test on a fresh Debian 12 machine (as root).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config clang libclang-rt-14-dev libomp-dev \
  libdnnl-dev libcjson-dev libutf8proc-dev libpcre2-dev libcurl4-openssl-dev \
  libmicrohttpd-dev zlib1g-dev libssl-dev libjpeg62-turbo-dev libpng-dev libwebp-dev \
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libfftw3-dev \
  python3-onnx python3-pytest python3-setuptools python3-venv \
  ca-certificates python3-torch python3-numpy >/dev/null
# Node.js + npm for the @huggingface/hub interoperability test and the ONNX export checks through onnxruntime-node (kept if already installed)
command -v node >/dev/null && command -v npm >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
