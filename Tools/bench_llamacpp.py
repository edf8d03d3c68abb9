#!/usr/bin/env python3
"""llama-bench-style throughput tests of llama.cpp on a GGUF file, through llama-cpp-python's low-level API.

Runs in the venv that Tools/setup-llamacpp.sh makes (.cache/llamacpp-venv). Mirrors `llama-bench -p P -n N -t T`:

  pp<P>: one test context (n_ctx = P) with its own threadpool; one warm-up prompt run, then per repetition the KV
         cache is cleared and P tokens (BOS first, then seeded random ids) are decoded in batches of n_batch,
         logits on the last token only; tokens/s = P / time.
  tg<N>: a fresh context (n_ctx = N); one warm-up single-token decode, then per repetition the KV cache is
         cleared and N single-token decodes run one after another from position 0 (BOS first, then random ids),
         each with logits and a synchronize; tokens/s = N / time.
  -d D:  the context first holds D random tokens (filled once, untimed); each repetition removes what it added
         after them, and pp/tg run from position D (named "pp128 @ d4096", as llama-bench does).

Model loading (mmap on; llama.cpp may repack weights at load) is timed separately as load_ms.
Output (-o json, the default) is a JSON array with llama-bench's field names (n_prompt, n_gen, n_threads, avg_ts,
stddev_ts, samples_ts, ...) plus load_ms, repacked, repack_mib, repack_layouts and llama.cpp's system info.
"""
import argparse
import ctypes
import json
import os
import random
import re
import statistics
import sys
import time

try:
    import llama_cpp
except ImportError:
    sys.exit("bench_llamacpp: llama_cpp is not importable; run Tools/setup-llamacpp.sh and use "
             ".cache/llamacpp-venv/bin/python")

LOG_LINES = []


@llama_cpp.llama_log_callback
def _log_callback(level, text, user_data):  # keep llama.cpp's log for --verbose and the repack check
    LOG_LINES.append(text.decode("utf-8", "replace") if text else "")


class ThreadPool:
    """A persistent ggml CPU threadpool attached to a context, as llama-bench does (default params: poll 50).

    llama-cpp-python does not bind llama_attach_threadpool, so the libraries it ships are called via ctypes.
    Without one ggml creates and joins a throwaway pool of threads for every decode."""

    def __init__(self, n_threads):
        lib_dir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
        self._base = ctypes.CDLL(os.path.join(lib_dir, "libggml-base.so"))
        self._cpu = ctypes.CDLL(os.path.join(lib_dir, "libggml-cpu.so"))
        self._llama = llama_cpp.llama_cpp._lib
        self._base.ggml_threadpool_params_init.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._base.ggml_threadpool_params_init.restype = None
        self._cpu.ggml_threadpool_new.argtypes = [ctypes.c_void_p]
        self._cpu.ggml_threadpool_new.restype = ctypes.c_void_p
        self._cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
        self._cpu.ggml_threadpool_free.restype = None
        self._llama.llama_attach_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._llama.llama_attach_threadpool.restype = None
        self._llama.llama_detach_threadpool.argtypes = [ctypes.c_void_p]
        self._llama.llama_detach_threadpool.restype = None
        # struct ggml_threadpool_params is ~528 bytes (bool cpumask[512], ints, bools); an opaque, larger buffer
        # filled by ggml itself keeps this independent of its exact layout.
        self._params = ctypes.create_string_buffer(4096)
        self._base.ggml_threadpool_params_init(self._params, n_threads)
        self.pool = self._cpu.ggml_threadpool_new(self._params)
        if not self.pool:
            raise RuntimeError("ggml_threadpool_new failed")

    def attach(self, ctx):
        self._llama.llama_attach_threadpool(ctx, self.pool, self.pool)

    def detach(self, ctx):
        self._llama.llama_detach_threadpool(ctx)

    def free(self):
        self._cpu.ggml_threadpool_free(self.pool)


class Bench:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        mparams.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE if args.no_mmap else llama_cpp.LLAMA_LOAD_MODE_MMAP
        if args.no_repack:
            mparams.use_extra_bufts = False
        start = time.perf_counter_ns()
        self.model = llama_cpp.llama_model_load_from_file(args.model.encode(), mparams)
        self.load_ms = (time.perf_counter_ns() - start) / 1e6
        if not self.model:
            sys.exit(f"bench_llamacpp: failed to load {args.model}\n" + "".join(LOG_LINES[-20:]))
        vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        self.bos = llama_cpp.llama_vocab_bos(vocab) if llama_cpp.llama_vocab_get_add_bos(vocab) else None
        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(self.model, desc, ctypes.sizeof(desc))
        self.model_type = desc.value.decode("utf-8", "replace")
        self.model_size = llama_cpp.llama_model_size(self.model)
        self.model_n_params = llama_cpp.llama_model_n_params(self.model)

    def random_token(self):
        return self.rng.randrange(self.n_vocab)

    def new_context(self, n_ctx):
        a = self.args
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = a.batch
        cparams.n_ubatch = min(a.ubatch, a.batch)
        cparams.n_threads = a.threads
        cparams.n_threads_batch = a.threads
        cparams.flash_attn_type = {"auto": llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                                   "off": llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED}[a.flash_attn]
        ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not ctx:
            sys.exit("bench_llamacpp: failed to create a context\n" + "".join(LOG_LINES[-20:]))
        return ctx

    @staticmethod
    def fill(batch, tokens, first_pos, logits_last_only):
        n = len(tokens)
        for i, tok in enumerate(tokens):
            batch.token[i] = tok
            batch.pos[i] = first_pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = (i == n - 1) if logits_last_only else True
        batch.n_tokens = n

    def prompt(self, ctx, batch, n_prompt, first_pos=0):
        done = 0
        while done < n_prompt:
            n = min(n_prompt - done, self.args.batch)
            tokens = [self.random_token() for _ in range(n)]
            if done == 0 and first_pos == 0 and self.bos is not None:
                tokens[0] = self.bos
            self.fill(batch, tokens, first_pos + done, True)
            if llama_cpp.llama_decode(ctx, batch) != 0:
                sys.exit("bench_llamacpp: llama_decode failed (prompt)")
            done += n
        llama_cpp.llama_synchronize(ctx)

    def generate(self, ctx, batch, n_gen, first_pos=0):
        token = self.bos if self.bos is not None and first_pos == 0 else self.random_token()
        for pos in range(first_pos, first_pos + n_gen):
            self.fill(batch, [token], pos, False)
            if llama_cpp.llama_decode(ctx, batch) != 0:
                sys.exit("bench_llamacpp: llama_decode failed (generation)")
            llama_cpp.llama_synchronize(ctx)
            token = self.random_token()

    def run_test(self, n_prompt, n_gen):
        a = self.args
        depth = a.n_depth
        ctx = self.new_context(depth + n_prompt + n_gen)
        pool = None
        if not a.no_threadpool:
            pool = ThreadPool(a.threads)
            pool.attach(ctx)
        batch = llama_cpp.llama_batch_init(max(a.batch, 1), 0, 1)
        memory = llama_cpp.llama_get_memory(ctx)
        if not a.no_warmup:
            if n_prompt > 0:
                self.prompt(ctx, batch, n_prompt)
            if n_gen > 0:
                llama_cpp.llama_memory_clear(memory, False)
                self.generate(ctx, batch, 1)
        samples_ns = []
        if depth > 0:  # the context at depth, filled once; each repetition drops what it added after it
            llama_cpp.llama_memory_clear(memory, False)
            self.prompt(ctx, batch, depth)
        for _ in range(a.repetitions):
            if depth > 0:
                llama_cpp.llama_memory_seq_rm(memory, 0, depth, -1)
            else:
                llama_cpp.llama_memory_clear(memory, False)
            start = time.perf_counter_ns()
            if n_prompt > 0:
                self.prompt(ctx, batch, n_prompt, depth)
            if n_gen > 0:
                self.generate(ctx, batch, n_gen, depth)
            samples_ns.append(time.perf_counter_ns() - start)
        llama_cpp.llama_batch_free(batch)
        if pool:
            pool.detach(ctx)
        llama_cpp.llama_free(ctx)
        if pool:
            pool.free()
        return samples_ns

    def close(self):
        llama_cpp.llama_model_free(self.model)


def stdev(values):
    return statistics.stdev(values) if len(values) > 1 else 0.0


def repack_info():
    """llama.cpp logs the CPU_REPACK buffer at load when it repacks weights (e.g. Q4_0 for AVX2 GEMM)."""
    mib, layouts = 0.0, set()
    for line in LOG_LINES:
        m = re.search(r"CPU_REPACK\s+model buffer size\s*=\s*([0-9.]+)\s*MiB", line)
        if m:
            mib += float(m.group(1))
        m = re.search(r"repack tensor \S+ with (\S+)", line)
        if m:
            layouts.add(m.group(1))
    return mib > 0, mib, sorted(layouts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-b", "--batch", type=int, default=512)
    ap.add_argument("-ub", "--ubatch", type=int, default=512)
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("-fa", "--flash-attn", choices=["auto", "on", "off"], default="auto",
                    help="llama.cpp's flash attention (its default: auto)")
    ap.add_argument("-d", "--n-depth", type=int, default=0, help="tokens already in the context (llama-bench -d)")
    ap.add_argument("-o", "--output", choices=["json", "md"], default="json")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--no-mmap", action="store_true")
    ap.add_argument("--no-repack", action="store_true", help="use_extra_bufts = false (llama-bench --repack 0)")
    ap.add_argument("--no-threadpool", action="store_true", help="let ggml make a throwaway pool per decode")
    ap.add_argument("-v", "--verbose", action="store_true", help="print llama.cpp's log to stderr")
    args = ap.parse_args()
    if args.n_prompt < 0 or args.n_gen < 0 or args.n_depth < 0 or args.repetitions < 1 or args.threads < 1 or args.batch < 1:
        ap.error("-p/-n/-d must be >= 0, -r/-t/-b >= 1")

    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    bench = Bench(args)
    tests = []
    if args.n_prompt > 0:
        tests.append((f"pp{args.n_prompt}", args.n_prompt, 0))
    if args.n_gen > 0:
        tests.append((f"tg{args.n_gen}", 0, args.n_gen))
    if args.n_depth > 0:  # llama-bench's names
        tests = [(f"{name} @ d{args.n_depth}", p, g) for name, p, g in tests]
    results = []
    for name, n_prompt, n_gen in tests:
        samples_ns = bench.run_test(n_prompt, n_gen)
        samples_ts = [1e9 * (n_prompt + n_gen) / ns for ns in samples_ns]
        results.append({"name": name, "n_prompt": n_prompt, "n_gen": n_gen,
                        "samples_ns": samples_ns, "samples_ts": samples_ts})
    bench.close()
    repacked, repack_mib, repack_layouts = repack_info()
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    if args.verbose:
        sys.stderr.write("".join(LOG_LINES))

    objects = []
    for r in results:
        objects.append({
            "engine": "llama.cpp", "llama_cpp_python": llama_cpp.__version__,
            "model_filename": args.model, "model_type": bench.model_type,
            "model_size": bench.model_size, "model_n_params": bench.model_n_params,
            "n_batch": args.batch, "n_ubatch": min(args.ubatch, args.batch), "n_threads": args.threads,
            "use_mmap": not args.no_mmap, "threadpool": not args.no_threadpool,
            "n_prompt": r["n_prompt"], "n_gen": r["n_gen"], "n_depth": args.n_depth, "flash_attn": args.flash_attn, "test": r["name"],
            "avg_ns": int(statistics.mean(r["samples_ns"])), "stddev_ns": int(stdev(r["samples_ns"])),
            "avg_ts": statistics.mean(r["samples_ts"]), "stddev_ts": stdev(r["samples_ts"]),
            "samples_ns": r["samples_ns"], "samples_ts": r["samples_ts"],
            "load_ms": bench.load_ms, "repacked": repacked, "repack_mib": repack_mib,
            "repack_layouts": repack_layouts,
            "system_info": system_info,
        })
    if args.output == "json":
        print(json.dumps(objects, indent=2))
    else:
        print("| model | size | threads | test | t/s |\n| --- | ---: | ---: | --- | ---: |")
        for o in objects:
            print(f"| {o['model_type']} | {o['model_size'] / 2**20:.1f} MiB | {o['n_threads']} | {o['test']} | "
                  f"{o['avg_ts']:.2f} ± {o['stddev_ts']:.2f} |")
        print(f"load {bench.load_ms:.1f} ms, repacked: {repacked} ({repack_mib:.1f} MiB {' '.join(repack_layouts)})\n"
              f"{system_info}")


if __name__ == "__main__":
    main()
