"""A GPU worker that dies mid-request fails that request and nothing else: the server stays up and answers
the next request on the CPU (docs/gpu.md). Runs anywhere: Tools/fake_gpu_worker.py stands in for the worker
and crashes with SIGSEGV on its first forward pass."""
from conftest import ROOT, Runner

FAKE = ROOT / "Tools" / "fake_gpu_worker.py"
CHAT = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 8, "temperature": 0}


def test_worker_crash_fails_one_request_and_the_server_goes_on(monkeypatch):
    monkeypatch.setenv("SWIFTFILE_GPU_WORKER", str(FAKE))
    runner = Runner("-ngl", "999")
    try:
        status, _, failed = runner.json("POST", "/v1/chat/completions", CHAT)
        assert status == 500, failed
        assert "the GPU worker was killed by signal 11" in failed["error"]["message"]
        assert "later requests run on the CPU" in failed["error"]["message"]
        status, _, answer = runner.json("POST", "/v1/chat/completions", CHAT)
        assert status == 200, answer
        text = answer["choices"][0]["message"]["content"]
        status, _, _ = runner.request("GET", "/health")
        assert status == 200
        assert runner.process.poll() is None
    finally:
        runner.stop()
    monkeypatch.delenv("SWIFTFILE_GPU_WORKER")
    cpu = Runner()
    try:
        status, _, expected = cpu.json("POST", "/v1/chat/completions", CHAT)
        assert status == 200, expected
        assert text == expected["choices"][0]["message"]["content"], "after the GPU is lost the answer is the CPU's"
    finally:
        cpu.stop()


def test_concurrent_requests_on_the_gpu_path_match_one_at_a_time(monkeypatch):
    """Two slots decoding together (batched steps, replayed as CUDA graphs) answer exactly what each answers
    alone, on the stand-in driver (GPU/stand_in_driver.c runs the kernels' own code on the host, one CUDA
    thread at a time: a request takes tens of seconds there, hence the long timeout). The model is Q8_0
    throughout because its kernels follow one summation order at every batch size (kernels.cu,
    matvec_q8_0): other formats' prompt tiles round differently from their matrix-vector steps, so a prompt
    cached by one request and resumed by another may legitimately part from the text it gives alone."""
    import concurrent.futures
    driver = ROOT / ".build" / "release" / "stand-in-driver"
    if not (driver / "libcuda.so.1").exists():
        return  # a CPU-only build (no clang with NVPTX): Tests/EndToEndTests/GPUTests checks that case
    model = ROOT / "testdata" / "models" / "tiny-llama3-q8_0.gguf"
    prompts = ["The capital of France is", "Once upon a time, there was a little robot who"]

    def ask(runner, text):
        body = {"prompt": text, "max_tokens": 6, "temperature": 0}
        status, _, data = runner.json("POST", "/v1/completions", body, timeout=900)
        assert status == 200, data
        return data["choices"][0]["text"]

    monkeypatch.setenv("LD_LIBRARY_PATH", str(driver))
    gpu = Runner("-ngl", "999", "--gpu", "nvidia", model=model)
    try:
        alone = [ask(gpu, p) for p in prompts]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            together = list(pool.map(lambda p: ask(gpu, p), prompts))
        assert together == alone
        assert all(alone)
    finally:
        gpu.stop()
