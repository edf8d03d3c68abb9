// Host check of formats.h: every format's chunk decoder against the gguf package's dequantisation
// (Tests/TensorsTests/Fixtures: <TYPE>.bin raw blocks, <TYPE>.f32 gguf's floats). Relative error 1e-6.
// Usage: format_check FIXTURE_DIR   (exit 1 on any mismatch or missing fixture)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats.h"

static unsigned char* slurp(const char* path, long* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char* p = malloc(*size > 0 ? *size : 1);
    if (p && fread(p, 1, *size, f) != (size_t)*size) { free(p); p = NULL; }
    fclose(f);
    return p;
}

int main(int argc, char** argv) {
    if (argc != 2) { fprintf(stderr, "usage: format_check FIXTURE_DIR\n"); return 2; }
    struct { const char* name; int type; } types[] = {
        {"F32", T_F32}, {"F16", T_F16}, {"BF16", T_BF16}, {"Q4_0", T_Q4_0}, {"Q4_1", T_Q4_1}, {"Q5_0", T_Q5_0},
        {"Q5_1", T_Q5_1}, {"Q8_0", T_Q8_0}, {"Q2_K", T_Q2_K}, {"Q3_K", T_Q3_K}, {"Q4_K", T_Q4_K},
        {"Q5_K", T_Q5_K}, {"Q6_K", T_Q6_K}, {"IQ4_NL", T_IQ4_NL}, {"IQ4_XS", T_IQ4_XS},
        {"IQ2_XXS", T_IQ2_XXS}, {"IQ2_XS", T_IQ2_XS}, {"IQ2_S", T_IQ2_S}, {"IQ3_XXS", T_IQ3_XXS}, {"IQ3_S", T_IQ3_S},
        {"IQ1_S", T_IQ1_S}, {"IQ1_M", T_IQ1_M},
    };
    int failures = 0, checked = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        char path[4096];
        long nb = 0, nf = 0;
        snprintf(path, sizeof path, "%s/%s.bin", argv[1], types[t].name);
        unsigned char* blocks = slurp(path, &nb);
        snprintf(path, sizeof path, "%s/%s.f32", argv[1], types[t].name);
        unsigned char* expected = slurp(path, &nf);
        if (!blocks || !expected) { printf("FAIL %-7s fixture missing\n", types[t].name); failures++; continue; }
        long count = nf / 4;
        int per = fmt_block_weights(types[t].type), bytes = fmt_block_bytes(types[t].type);
        if (count % per || nb != count / per * bytes) {
            printf("FAIL %-7s fixture sizes %ld/%ld do not fit the block layout\n", types[t].name, nb, nf);
            failures++; continue;
        }
        int bad = 0;
        double worst = 0;
        for (long c = 0; c < count / 32; c++) {
            float w[32];
            fmt_chunk(types[t].type, blocks, (int)c, w);
            for (int i = 0; i < 32; i++) {
                float e;
                memcpy(&e, expected + 4 * (c * 32 + i), 4);
                double err = fabs((double)w[i] - e) / fmax(1e-30, fabs((double)e));
                if (!(w[i] == e) && !(err <= 1e-6) && !(fabs((double)w[i] - e) < 1e-30)) {
                    if (bad < 3) printf("  %s element %ld: %g, gguf %g\n", types[t].name, c * 32 + i, w[i], e);
                    bad++;
                }
                if (err > worst && isfinite(err)) worst = err;
            }
        }
        printf("%s %-7s %ld values, worst relative error %.2g\n", bad ? "FAIL" : "ok  ", types[t].name, count, worst);
        failures += bad != 0;
        checked++;
        free(blocks); free(expected);
    }
    printf("format_check: %d formats, %d failed\n", checked, failures);
    return failures ? 1 : 0;
}
