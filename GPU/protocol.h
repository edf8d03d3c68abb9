// The runner ↔ GPU worker protocol (docs/gpu.md). The runner starts the worker with three descriptors:
//   3: shared memory (a memfd both map), 4: requests (runner → worker), 5: replies (worker → runner).
// Every request gets exactly one reply. Integers are little-endian; the Swift side
// (Sources/Offload/GPUWorker.swift, WorkerProtocol) mirrors these numbers.
#pragma once
#include <stdint.h>

#define SFG_MAGIC 0x31474653u  // "SFG1"
#define SFG_VERSION 2u
#define SFG_HIDDEN (1ull << 32)  // SFG_FORWARD's payload: return the residual stream even with the output loaded

enum sfg_op {
    SFG_PROBE = 1,    // n = device index; reply: its name and memory, or why there is none; value = device count
    SFG_LOAD = 2,     // payload = bytes of the load description at shared offset 0
    SFG_FORWARD = 3,  // n = tokens, payload = rows whose logits are wanted (output on the GPU), or
                      // SFG_HIDDEN: the last layer's output instead (embeddings)
    SFG_QUIT = 4,
    SFG_SHIFT = 5,    // n = sequence; context shift of every loaded layer's cache (worker.c, handle_shift)
};

enum sfg_status {
    SFG_OK = 0,
    SFG_NO_DEVICE = 1,   // no driver, no device, unsupported device
    SFG_NO_MEMORY = 2,   // the layers do not fit
    SFG_BAD_REQUEST = 3, // a malformed description or request
    SFG_FAILED = 4,      // a CUDA call failed; the worker is unusable
};

struct sfg_request {
    uint32_t op;
    uint32_t n;
    uint64_t payload;
};

struct sfg_reply {
    int32_t status;
    uint32_t value;
    uint64_t free_bytes;
    uint64_t total_bytes;
    char text[232];
};

// Load description: a header of 32-bit fields, the model path, then tensor records. H_KV_TYPE: the KV cache's
// type, keys and values alike (0 F16, 1 F32, 2 Q8_0, 3 Q4_0).
enum sfg_header_field {
    H_MAGIC, H_VERSION, H_EMBD, H_HEADS, H_KV_HEADS, H_HEAD_DIM, H_FF, H_VOCAB, H_ROPE_DIM, H_CTX,
    H_SEQUENCES, H_MAX_BATCH, H_FIRST_LAYER, H_LAYERS, H_OUTPUT, H_KV_TYPE, H_EPS_BITS, H_PATH_BYTES,
    H_TENSORS, H_COUNT
};

enum sfg_role {
    R_ATTN_NORM, R_WQ, R_WK, R_WV, R_WO, R_FFN_NORM, R_GATE, R_UP, R_DOWN, R_OUTPUT_NORM, R_OUTPUT, R_COUNT
};

#define SFG_GLOBAL_LAYER 0xFFFFFFFFu
#define SFG_SOURCE_FILE 0u    // offset = absolute byte offset in the model file
#define SFG_SOURCE_INLINE 1u  // offset = byte offset in this description (F32 vectors)

struct sfg_tensor {
    uint32_t layer, role, type, source;
    uint64_t rows, cols, offset, bytes;
};

// Shared-memory layout during FORWARD, from the header's sizes (the runner computes the same).
static inline uint64_t sfg_align(uint64_t v) { return (v + 4095) & ~(uint64_t)4095; }
struct sfg_layout { uint64_t x, rope, info, wanted, out, total; };
static inline struct sfg_layout sfg_layout_of(uint64_t embd, uint64_t ropeDim, uint64_t vocab, uint64_t maxBatch) {
    struct sfg_layout l;
    l.x = 0;
    l.rope = sfg_align(l.x + maxBatch * embd * 4);
    l.info = sfg_align(l.rope + maxBatch * ropeDim * 4);
    l.wanted = sfg_align(l.info + maxBatch * 8);
    l.out = sfg_align(l.wanted + maxBatch * 4);
    uint64_t widest = vocab > embd ? vocab : embd;
    l.total = sfg_align(l.out + maxBatch * widest * 4);
    return l;
}
