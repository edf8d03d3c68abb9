// A stand-in for the NVIDIA driver's libcuda.so.1, for tests on machines without a GPU: the real
// swiftfile-gpu worker loads it (LD_LIBRARY_PATH) and runs unchanged — protocol, load, the forward pass's
// launch sequence, graph capture and replay — while each kernel is computed on the host by a plain loop
// with the kernel's arguments and meaning (GPU/kernels.cu). What it cannot check is the CUDA code itself;
// `swiftfile-gpu --selftest` does that on a real device against the same kind of host references.
// Built by Tools/build-gpu-worker.sh as fake-cuda/libcuda.so.1 beside the worker; never shipped.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum { OK = 0, NOT_FOUND = 500, INVALID = 1 };

// ---- Kernels on the host ---------------------------------------------------------------------------
typedef void (*host_kernel)(unsigned gx, unsigned gy, void** args);
#define ARG(i, T) (*(T*)args[i])
#define PTR(i, T) ((T*)(uintptr_t)ARG(i, CUdeviceptr))

static int g_type;  // the weight type of the matrix kernel being run (set by the dispatcher)

static void matrix(unsigned gx, unsigned gy, void** args) {
    (void)gx; (void)gy;
    const u8* w = PTR(0, const u8);
    unsigned long long rowBytes = ARG(1, unsigned long long);
    const float* x = PTR(2, const float);
    float* y = PTR(3, float);
    int rows = ARG(4, int), cols = ARG(5, int), n = ARG(6, int);
    float chunk[32];
    double* acc = malloc((size_t)(n > 0 ? n : 1) * sizeof *acc);
    for (int r = 0; r < rows; r++) {
        for (int t = 0; t < n; t++) acc[t] = 0;
        for (int c = 0; c < cols / 32; c++) {
            fmt_chunk(g_type, w + (size_t)r * rowBytes, c, chunk);
            for (int t = 0; t < n; t++)
                for (int i = 0; i < 32; i++) acc[t] += (double)chunk[i] * x[(size_t)t * cols + c * 32 + i];
        }
        for (int t = 0; t < n; t++) y[(size_t)t * rows + r] = (float)acc[t];
    }
    free(acc);
}

static float half_round(float v) {
    if (!isfinite(v) || v == 0) return v;
    float a = fabsf(v);
    if (a >= 65520.0f) return v < 0 ? -INFINITY : INFINITY;
    float q;
    if (a < 6.103515625e-05f) {
        q = nearbyintf(a / 5.9604644775390625e-08f) * 5.9604644775390625e-08f;
    } else {
        int e;
        float m = frexpf(a, &e);
        q = ldexpf(nearbyintf(ldexpf(m, 11)), e - 11);
    }
    return v < 0 ? -q : q;
}

static void round_row(const float* src, float* dst, int cols, int mode) {
    float* tmp = malloc((size_t)cols * sizeof *tmp);
    for (int i = 0; i < cols; i++) {
        float v = src[i], r = v;
        if (mode == 1) {
            r = half_round(v);
        } else if (mode == 2) {
            uint32_t u;
            memcpy(&u, &v, 4);
            u = (u + (0x7fffu + ((u >> 16) & 1u))) & 0xffff0000u;
            memcpy(&r, &u, 4);
        } else if (mode == 3) {
            int b = i / 32 * 32;
            float amax = 0;
            for (int j = b; j < b + 32; j++) amax = fmaxf(amax, fabsf(src[j]));
            float d = half_round(amax / 127.0f), inv = amax != 0 ? 127.0f / amax : 0;
            r = d * fminf(127, fmaxf(-128, nearbyintf(v * inv)));
        } else if (mode == 4) {
            int b = i / 256 * 256;
            float amax = 0, extreme = 0;
            for (int j = b; j < b + 256 && j < cols; j++)
                if (fabsf(src[j]) > amax) { amax = fabsf(src[j]); extreme = src[j]; }
            if (amax == 0) { r = 0; } else {
                float scale = -127.0f / extreme;
                r = fminf(127, nearbyintf(scale * v)) * (1.0f / scale);
            }
        }
        tmp[i] = r;
    }
    memcpy(dst, tmp, (size_t)cols * sizeof *tmp);
    free(tmp);
}

static void round_activations(unsigned gx, unsigned gy, void** args) {
    (void)gy;
    const float* x = PTR(0, const float);
    float* out = PTR(1, float);
    int cols = ARG(2, int), mode = ARG(3, int);
    for (unsigned r = 0; r < gx; r++) round_row(x + (size_t)r * cols, out + (size_t)r * cols, cols, mode);
}

static void add_norm_round(unsigned gx, unsigned gy, void** args) {
    (void)gy;
    float* x = PTR(0, float);
    const float* add = PTR(1, const float);
    const float* weight = PTR(2, const float);
    float* out = PTR(3, float);
    int cols = ARG(4, int), mode = ARG(6, int);
    float eps = ARG(5, float);
    for (unsigned r = 0; r < gx; r++) {
        float* src = x + (size_t)r * cols;
        float* dst = out + (size_t)r * cols;
        double s = 0;
        for (int i = 0; i < cols; i++) {
            if (add) src[i] += add[(size_t)r * cols + i];
            s += (double)src[i] * src[i];
        }
        float scale = 1.0f / sqrtf((float)(s / cols) + eps);
        for (int i = 0; i < cols; i++) dst[i] = src[i] * scale * weight[i];
        if (mode) round_row(dst, dst, cols, mode);
    }
}

static void rope_qk(unsigned gx, unsigned gy, void** args) {
    float* q = PTR(0, float);
    float* k = PTR(1, float);
    const float* table = PTR(2, const float);
    int heads = ARG(3, int), kvHeads = ARG(4, int), hd = ARG(5, int), ropeDim = ARG(6, int);
    for (unsigned token = 0; token < gx; token++)
        for (unsigned head = 0; head < gy; head++) {
            float* v = (int)head < heads ? q + ((size_t)token * heads + head) * hd
                                         : k + ((size_t)token * kvHeads + (head - heads)) * hd;
            const float* cs = table + (size_t)token * ropeDim;
            for (int p = 0; p < ropeDim / 2; p++) {
                float c = cs[2 * p], s = cs[2 * p + 1], a = v[2 * p], b = v[2 * p + 1];
                v[2 * p] = a * c - b * s;
                v[2 * p + 1] = a * s + b * c;
            }
        }
}

static float fp16_bits_to_float(uint16_t h) { return fmt_half((const u8*)&h); }
static uint16_t float_to_fp16_bits(float v) {
    float r = half_round(v);
    if (r == 0) return signbit(r) ? 0x8000 : 0;
    uint16_t sign = signbit(r) ? 0x8000 : 0;
    float a = fabsf(r);
    if (isinf(a)) return sign | 0x7c00;
    int e;
    float m = frexpf(a, &e);
    int exp = e - 1 + 15;
    if (exp <= 0) return sign | (uint16_t)nearbyintf(a / 5.9604644775390625e-08f);
    return sign | (uint16_t)(exp << 10) | (uint16_t)nearbyintf((m * 2 - 1) * 1024);
}

static int g_kv_f16;

static void kv_store(unsigned gx, unsigned gy, void** args) {
    (void)gy;
    const float* k = PTR(0, const float);
    const float* v = PTR(1, const float);
    const int* info = PTR(4, const int);
    int kvDim = ARG(5, int), ctx = ARG(6, int), seqs = ARG(7, int), layer = ARG(8, int);
    for (unsigned i = 0; i < gx; i++) {
        size_t base = (((size_t)layer * seqs + info[2 * i + 1]) * ctx + info[2 * i]) * kvDim;
        for (int d = 0; d < kvDim; d++) {
            if (g_kv_f16) {
                PTR(2, uint16_t)[base + d] = float_to_fp16_bits(k[(size_t)i * kvDim + d]);
                PTR(3, uint16_t)[base + d] = float_to_fp16_bits(v[(size_t)i * kvDim + d]);
            } else {
                PTR(2, float)[base + d] = k[(size_t)i * kvDim + d];
                PTR(3, float)[base + d] = v[(size_t)i * kvDim + d];
            }
        }
    }
}

static void attention(unsigned gx, unsigned gy, void** args) {
    const float* q = PTR(0, const float);
    float* out = PTR(3, float);
    const int* info = PTR(4, const int);
    int heads = ARG(5, int), kvHeads = ARG(6, int), hd = ARG(7, int), ctx = ARG(8, int), seqs = ARG(9, int);
    int layer = ARG(10, int);
    float scale = ARG(11, float);
    int kvDim = kvHeads * hd;
    double* p = malloc((size_t)ctx * sizeof *p);
    for (unsigned token = 0; token < gx; token++)
        for (unsigned head = 0; head < gy; head++) {
            int length = info[2 * token] + 1, seq = info[2 * token + 1];
            size_t base = (((size_t)layer * seqs + seq) * ctx) * kvDim + (size_t)(head / (heads / kvHeads)) * hd;
            const float* qv = q + ((size_t)token * heads + head) * hd;
            double mx = -1e300, sum = 0;
            for (int j = 0; j < length; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++) {
                    size_t at = base + (size_t)j * kvDim + d;
                    float key = g_kv_f16 ? fp16_bits_to_float(PTR(1, uint16_t)[at]) : PTR(1, float)[at];
                    s += (double)(g_kv_f16 ? half_round(qv[d]) : qv[d]) * key;
                }
                p[j] = s * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < length; j++) { p[j] = exp(p[j] - mx); sum += p[j]; }
            for (int d = 0; d < hd; d++) {
                double o = 0;
                for (int j = 0; j < length; j++) {
                    size_t at = base + (size_t)j * kvDim + d;
                    float value = g_kv_f16 ? fp16_bits_to_float(PTR(2, uint16_t)[at]) : PTR(2, float)[at];
                    float w = (float)(p[j] / sum);
                    o += (double)(g_kv_f16 ? half_round(w) : w) * value;
                }
                out[((size_t)token * heads + head) * hd + d] = (float)o;
            }
        }
    free(p);
}

static void swiglu_round(unsigned gx, unsigned gy, void** args) {
    (void)gy;
    float* gate = PTR(0, float);
    const float* up = PTR(1, const float);
    int cols = ARG(2, int), mode = ARG(3, int);
    for (unsigned r = 0; r < gx; r++) {
        float* g = gate + (size_t)r * cols;
        for (int i = 0; i < cols; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * up[(size_t)r * cols + i];
        if (mode) round_row(g, g, cols, mode);
    }
}

static void add_inplace(unsigned gx, unsigned gy, void** args) {
    (void)gx; (void)gy;
    float* x = PTR(0, float);
    const float* y = PTR(1, const float);
    int n = ARG(2, int);
    for (int i = 0; i < n; i++) x[i] += y[i];
}

static void gather_rows(unsigned gx, unsigned gy, void** args) {
    (void)gy;
    float* dst = PTR(0, float);
    const float* src = PTR(1, const float);
    const int* index = PTR(2, const int);
    int cols = ARG(3, int);
    for (unsigned r = 0; r < gx; r++) memmove(dst + (size_t)r * cols, src + (size_t)index[r] * cols, (size_t)cols * 4);
}

// ---- Functions: a name table -------------------------------------------------------------------------
struct function { host_kernel run; int type, kv_f16; char name[32]; };
static struct function g_functions[64];
static int g_function_count;

static const struct { const char* suffix; int type; } g_types[] = {
    {"f32", T_F32}, {"f16", T_F16}, {"bf16", T_BF16}, {"q4_0", T_Q4_0}, {"q4_1", T_Q4_1}, {"q5_0", T_Q5_0},
    {"q5_1", T_Q5_1}, {"q8_0", T_Q8_0}, {"q2_k", T_Q2_K}, {"q3_k", T_Q3_K}, {"q4_k", T_Q4_K}, {"q5_k", T_Q5_K},
    {"q6_k", T_Q6_K}, {"iq4_nl", T_IQ4_NL}, {"iq4_xs", T_IQ4_XS},
};

static struct function* lookup(const char* name) {
    for (int i = 0; i < g_function_count; i++)
        if (!strcmp(g_functions[i].name, name)) return &g_functions[i];
    struct function f = {0, -1, 0, {0}};
    snprintf(f.name, sizeof f.name, "%s", name);
    if (!strncmp(name, "mv_", 3) || !strncmp(name, "mm_", 3)) {
        for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
            if (!strcmp(name + 3, g_types[i].suffix)) { f.run = matrix; f.type = g_types[i].type; }
    } else if (!strcmp(name, "round_activations")) f.run = round_activations;
    else if (!strcmp(name, "add_norm_round")) f.run = add_norm_round;
    else if (!strcmp(name, "rope_qk")) f.run = rope_qk;
    else if (!strcmp(name, "kv_store_f16")) { f.run = kv_store; f.kv_f16 = 1; }
    else if (!strcmp(name, "kv_store_f32")) f.run = kv_store;
    else if (!strcmp(name, "attention_f16")) { f.run = attention; f.kv_f16 = 1; }
    else if (!strcmp(name, "attention_f32")) f.run = attention;
    else if (!strcmp(name, "swiglu_round")) f.run = swiglu_round;
    else if (!strcmp(name, "add_inplace")) f.run = add_inplace;
    else if (!strcmp(name, "gather_rows")) f.run = gather_rows;
    if (!f.run || g_function_count == 64) return NULL;
    g_functions[g_function_count] = f;
    return &g_functions[g_function_count++];
}

// ---- Launches and graphs: a graph is the list of launches captured, with their arguments copied ------
struct launch { struct function* f; unsigned gx, gy; unsigned char args[16][8]; int count; };
struct graph { struct launch* launches; int count, capacity; };
static struct graph* g_capture;

static void run_launch(struct launch* l) {
    void* pointers[16];
    for (int i = 0; i < l->count; i++) pointers[i] = l->args[i];
    g_type = l->f->type;
    g_kv_f16 = l->f->kv_f16;
    l->f->run(l->gx, l->gy, pointers);
}

static int argument_count(struct function* f) {
    if (f->run == matrix) return 7;
    if (f->run == round_activations || f->run == swiglu_round || f->run == gather_rows) return 4;
    if (f->run == add_norm_round || f->run == rope_qk) return 7;
    if (f->run == kv_store) return 9;
    if (f->run == attention) return 12;
    return 3;  // add_inplace
}

// ---- The driver API ---------------------------------------------------------------------------------
CUresult cuInit(unsigned flags) { (void)flags; return OK; }
CUresult cuDriverGetVersion(int* v) { *v = 12000; return OK; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return OK; }
CUresult cuDeviceGet(int* d, int i) { *d = i; return i == 0 ? OK : INVALID; }
CUresult cuDeviceGetName(char* name, int len, int d) { (void)d; snprintf(name, (size_t)len, "Stand-in CUDA device (host)"); return OK; }
CUresult cuDeviceTotalMem_v2(size_t* bytes, int d) { (void)d; *bytes = 8ull << 30; return OK; }
CUresult cuDeviceGetAttribute(int* v, int attribute, int d) {
    (void)d;
    *v = attribute == 75 ? 9 : attribute == 76 ? 0 : attribute == 16 ? 1 : 0;
    return OK;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int d) { (void)d; *c = (void*)1; return OK; }
CUresult cuCtxSetCurrent(void* c) { (void)c; return OK; }
CUresult cuCtxSynchronize(void) { return OK; }
CUresult cuModuleLoadDataEx(void** m, const void* image, unsigned n, int* o, void** v) {
    (void)n; (void)o; (void)v;
    if (!image || !strstr((const char*)image, ".entry mv_q4_0")) return 218;  // CUDA_ERROR_INVALID_PTX
    *m = (void*)1;
    return OK;
}
CUresult cuModuleGetFunction(void** f, void* m, const char* name) {
    (void)m;
    struct function* found = lookup(name);
    if (!found) return NOT_FOUND;
    *f = found;
    return OK;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    void* m = malloc(bytes ? bytes : 1);
    if (!m) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    memset(m, 0xA5, bytes);  // as uninitialised as real device memory
    *p = (CUdeviceptr)(uintptr_t)m;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) { free((void*)(uintptr_t)p); return OK; }
CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) { *free_bytes = 7ull << 30; *total = 8ull << 30; return OK; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) { memcpy((void*)(uintptr_t)d, s, n); return OK; }
CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) { memcpy(d, (void*)(uintptr_t)s, n); return OK; }
CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { memset((void*)(uintptr_t)d, v, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void* st) { (void)st; return cuMemcpyHtoD_v2(d, s, n); }
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) { (void)st; return cuMemcpyDtoH_v2(d, s, n); }
CUresult cuMemHostRegister_v2(void* p, size_t n, unsigned f) { (void)p; (void)n; (void)f; return OK; }
CUresult cuStreamCreate(void** s, unsigned f) { (void)f; *s = (void*)2; return OK; }
CUresult cuStreamSynchronize(void* s) { (void)s; return OK; }
CUresult cuGetErrorString(CUresult r, const char** s) { *s = r == NOT_FOUND ? "named symbol not found" : "stand-in driver error"; return OK; }

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* stream, void** args, void** extra) {
    (void)gz; (void)bx; (void)by; (void)bz; (void)shared; (void)stream; (void)extra;
    struct launch l = {f, gx, gy, {{0}}, argument_count(f)};
    for (int i = 0; i < l.count; i++) memcpy(l.args[i], args[i], 8);  // (every argument is at most 8 bytes)
    if (g_capture) {
        if (g_capture->count == g_capture->capacity) {
            g_capture->capacity = g_capture->capacity ? 2 * g_capture->capacity : 64;
            g_capture->launches = realloc(g_capture->launches, (size_t)g_capture->capacity * sizeof(struct launch));
        }
        g_capture->launches[g_capture->count++] = l;
    } else {
        run_launch(&l);
    }
    return OK;
}

CUresult cuStreamBeginCapture_v2(void* s, int mode) { (void)s; (void)mode; g_capture = calloc(1, sizeof *g_capture); return OK; }
CUresult cuStreamEndCapture(void* s, void** graph) { (void)s; *graph = g_capture; g_capture = NULL; return OK; }
CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags) {
    (void)flags;
    struct graph* copy = calloc(1, sizeof *copy);
    const struct graph* g = graph;
    copy->count = copy->capacity = g->count;
    copy->launches = malloc((size_t)(g->count ? g->count : 1) * sizeof(struct launch));
    memcpy(copy->launches, g->launches, (size_t)g->count * sizeof(struct launch));
    *exec = copy;
    return OK;
}
CUresult cuGraphLaunch(void* exec, void* stream) {
    (void)stream;
    struct graph* g = exec;
    for (int i = 0; i < g->count; i++) run_launch(&g->launches[i]);
    return OK;
}
CUresult cuGraphDestroy(void* graph) {
    struct graph* g = graph;
    free(g->launches);
    free(g);
    return OK;
}
