/* fuzz_recommend.c — the text path and the index loader of the recommend module.
 * The input is split at the first NUL: the text of a product added to a small index (any
 * bytes: invalid UTF-8, huge runs, odd Unicode), whose neighbours are then queried; the whole
 * input is also loaded as a saved index, which must fail cleanly or work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/recommend.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    o.ngram_max = 1 + (size ? data[0] % 3 : 0);
    o.sublinear_tf = size > 1 && (data[1] & 1);
    o.max_features = size > 2 ? data[2] % 8 : 0;
    o.threads = 1;
    stepd_recommend_index *idx = NULL;
    if (stepd_recommend_index_new(&o, &idx, NULL))
        return 0;
    const char *text = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t)(nul - data) : size;
    stepd_recommend_index_put_text(idx, "a", "red shoes for running", 21, NULL);
    stepd_recommend_index_put_text(idx, "fuzz", text, len, NULL);
    if (nul)
        stepd_recommend_index_put_text(idx, "rest", (const char *)nul + 1, size - len - 1, NULL);
    stepd_recommend_hits h;
    if (!stepd_recommend_index_similar(idx, "fuzz", 3, &h, NULL))
        stepd_recommend_hits_free(&h);
    json_t *v = NULL;
    if (!stepd_recommend_index_vector(idx, "fuzz", &v, NULL))
        json_decref(v);
    unsigned char *buf;
    size_t blen;
    if (!stepd_recommend_index_save_buffer(idx, &buf, &blen, NULL)) {
        stepd_recommend_index *back = NULL;
        if (stepd_recommend_index_load_buffer(buf, blen, &back, NULL))
            abort(); /* what we save must load */
        stepd_recommend_index_free(back);
        free(buf);
    }
    stepd_recommend_index_free(idx);

    stepd_recommend_index *loaded = NULL;
    if (!stepd_recommend_index_load_buffer(data, size, &loaded, NULL)) {
        if (!stepd_recommend_index_similar(loaded, "a", 3, &h, NULL))
            stepd_recommend_hits_free(&h);
        stepd_recommend_index_free(loaded);
    }
    return 0;
}
