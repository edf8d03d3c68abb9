#!/usr/bin/env bash
# Builds llama.cpp with CUDA for sm_90 (H100/H200) on this machine, for Tools/gpu-check.sh's side-by-side
# speed table: llama-bench under .cache/cuda/llama-build/bin, and a CPU-only llama-quantize (a tenth of the
# size, it needs no GPU) under .cache/cuda/quantize-build/bin. Both need only glibc, libstdc++ and (bench)
# CUDA 13's libcudart and libcublas: no OpenMP, no OpenSSL. Everything from PyPI:
# nvcc, the CUDA runtime and cuBLAS (CUDA 13 wheels, to link against; the GPU machine's image provides the
# same libraries at run time) and llama.cpp's sources from the llama-cpp-python sdist. No GPU is needed to
# build. Slow on 2 cores (about 90 minutes, most of it the CUDA template instances); idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="$root/.cache/cuda"
venv="$base/venv"
mkdir -p "$base/src"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cuda-cccl nvidia-cublas cmake ninja scikit-build-core
cuda="$("$venv/bin/python" -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')"
# CMake's FindCUDAToolkit looks for lib64 and unversioned library names.
ln -sfn lib "$cuda/lib64"
for l in cudart cublas cublasLt; do ln -sf "lib$l.so.13" "$cuda/lib/lib$l.so"; done
src="$base/src/llama_cpp_python-0.3.36"
if [ ! -d "$src" ]; then
    (cd "$base/src" && PATH="$venv/bin:$PATH" "$venv/bin/pip" download -q --no-deps --no-binary :all: --no-build-isolation llama-cpp-python==0.3.36 &&
     tar xzf llama_cpp_python-0.3.36.tar.gz)
fi
export PATH="$venv/bin:$PATH"
cmake -S "$src/vendor/llama.cpp" -B "$base/llama-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" -DCUDAToolkit_ROOT="$cuda" \
    -DGGML_CUDA_NO_VMM=ON -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_OPENMP=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null
nice -n 15 ninja -C "$base/llama-build" llama-bench
cmake -S "$src/vendor/llama.cpp" -B "$base/quantize-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=OFF \
    -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_OPENMP=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null
nice -n 15 ninja -C "$base/quantize-build" llama-quantize
ls -l "$base/llama-build/bin/llama-bench" "$base/quantize-build/bin/llama-quantize"
