"""/v1/embeddings with the output layer on the GPU: the worker returns the last layer's output instead of logits
(SFG_HIDDEN), so the vectors are the CPU's to the byte, with every layer offloaded and with half of them. (It
used to fail with "embeddings need the output layer on the CPU".) Runs on the stand-in driver
(GPU/stand_in_driver.c: the kernels' own code on the host)."""
import json

from conftest import ROOT, Runner

MODEL = ROOT / "testdata" / "models" / "tiny-llama3-q8_0.gguf"
BODY = {"input": ["hello world", "The capital of France is"]}


def embeddings(*args):
    runner = Runner(*args, model=MODEL)
    try:
        status, _, data = runner.json("POST", "/v1/embeddings", BODY, timeout=600)
        assert status == 200, data
        return [item["embedding"] for item in data["data"]]
    finally:
        runner.stop()


def test_embeddings_with_offloaded_layers_are_the_cpus(monkeypatch):
    driver = ROOT / ".build" / "release" / "stand-in-driver"
    assert (driver / "libcuda.so.1").exists(), "make builds the stand-in driver with the GPU worker (clang-14)"
    cpu = embeddings()
    assert len(cpu) == 2 and len(cpu[0]) == 256
    monkeypatch.setenv("LD_LIBRARY_PATH", str(driver))
    for layers in ["999", "2"]:
        gpu = embeddings("-ngl", layers, "--gpu", "nvidia")
        assert json.dumps(gpu) == json.dumps(cpu), f"-ngl {layers}"
