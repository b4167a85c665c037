/*
 * recommend_cli.c — `stepd ai recommend`: similar products from a catalogue file, with the same
 * default TF-IDF settings as scikit-learn's TfidfVectorizer(); options select the others.
 * It can also save the analysed index and answer from a saved index without the catalogue.
 */
#include "ai/ai_cli.h"
#include "ai/recommend_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: stepd ai recommend (--catalog FILE | --index FILE) --item ID [-k N] [options]\n"
            "       stepd ai recommend --catalog FILE --all [-k N]       top-k for every product\n"
            "       stepd ai recommend --catalog FILE --vectors [--item ID]  TF-IDF vectors\n"
            "       stepd ai recommend --catalog FILE --save FILE        persist the index\n"
            "\n"
            "The catalogue is a JSON array of objects with \"id\" (string or integer) and text\n"
            "fields (\"title\", \"description\", \"category\", \"tags\" by default). Prints\n"
            "[{\"productId\", \"score\", \"reason\"}] best first (cosine similarity).\n"
            "\n"
            "options (defaults are scikit-learn's TfidfVectorizer()):\n"
            "  -k N                 results per item (5)\n"
            "  --ngram MIN,MAX      n-gram range (1,1); 1,2 adds bigrams\n"
            "  --stop-words english drop scikit-learn's English stop words\n"
            "  --sublinear-tf       tf -> 1 + ln(tf)\n"
            "  --max-features N     keep the N most frequent terms\n"
            "  --no-idf | --no-smooth-idf   idf off | idf = ln(n/df) + 1\n"
            "  --norm l2|l1|none    normalisation of printed vectors (l2)\n"
            "  --fields a,b,c       product fields that make up its text\n"
            "  --threads N          analysis and batch query threads (online CPUs)\n"
            "  --bench N            time the build and N similar-item queries (JSON)\n");
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Maps id strings back to the catalogue's JSON ids so integer ids print as integers. */
static json_t *id_map(const json_t *catalog) {
    json_t *m = json_object();
    size_t i;
    const json_t *p;
    char id[1024];
    json_array_foreach(catalog, i, p) {
        if (m && !ai_recommend_product_id(p, id, sizeof(id)))
            json_object_set(m, id, json_object_get(p, "id"));
    }
    return m;
}

static json_t *hits_out(const stepd_recommend_hits *h, const json_t *ids) {
    json_t *arr = stepd_recommend_hits_json(h);
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        json_t *orig = ids ? json_object_get(ids, h->items[i].product_id) : NULL;
        if (orig)
            json_object_set(o, "productId", orig);
    }
    return arr;
}

static int print_json(json_t *v) {
    if (!v) {
        fprintf(stderr, "stepd ai recommend: out of memory\n");
        return 1;
    }
    int rc = json_dumpf(v, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17)) ? 1 : 0;
    fputc('\n', stdout);
    json_decref(v);
    return rc;
}

static int run_bench(stepd_recommend_index *idx, const json_t *catalog, size_t nq, size_t k,
                     double build_ms, int threads) {
    size_t n = json_array_size(catalog);
    if (!n) {
        fprintf(stderr, "stepd ai recommend: --bench needs a non-empty catalogue\n");
        return 1;
    }
    char(*ids)[64] = calloc(nq ? nq : 1, sizeof(*ids));
    const char **idp = calloc(nq ? nq : 1, sizeof(*idp));
    stepd_recommend_hits *out = calloc(nq ? nq : 1, sizeof(*out));
    if (!ids || !idp || !out) {
        free(ids);
        free(idp);
        free(out);
        return 1;
    }
    for (size_t i = 0; i < nq; i++) {
        ai_recommend_product_id(json_array_get(catalog, (i * 7919) % n), ids[i], sizeof(ids[i]));
        idp[i] = ids[i];
    }
    double t0 = now_ms();
    stepd_recommend_index_features(idx); /* refresh outside the query timing */
    double refresh_ms = now_ms() - t0;
    size_t nsingle = nq < 2000 ? nq : 2000;
    t0 = now_ms();
    for (size_t i = 0; i < nsingle; i++) {
        stepd_recommend_hits h;
        stepd_recommend_index_similar(idx, idp[i], k, &h, NULL);
        stepd_recommend_hits_free(&h);
    }
    double single_ms = now_ms() - t0;
    t0 = now_ms();
    int rc = stepd_recommend_index_similar_batch(idx, idp, nq, k, out, NULL);
    double batch_ms = now_ms() - t0;
    for (size_t i = 0; i < nq; i++)
        stepd_recommend_hits_free(&out[i]);
    json_t *r = json_pack(
        "{s:I,s:I,s:f,s:f,s:I,s:f,s:f,s:i}", "products",
        (json_int_t)stepd_recommend_index_count(idx), "features",
        (json_int_t)stepd_recommend_index_features(idx), "build_ms", build_ms + refresh_ms,
        "refresh_ms", refresh_ms, "queries", (json_int_t)nq, "single_thread_qps",
        nsingle / (single_ms > 0 ? single_ms : 1e-3) * 1e3, "batch_qps",
        nq / (batch_ms > 0 ? batch_ms : 1e-3) * 1e3, "threads", ai_recommend_threads(threads));
    free(ids);
    free(idp);
    free(out);
    if (rc)
        return 1;
    return print_json(r);
}

int ai_cli_recommend(int argc, char **argv) {
    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    const char *catalog_path = NULL, *index_path = NULL, *item = NULL, *save = NULL;
    const char *fields_arg = NULL;
    size_t k = 5, bench = 0;
    int all = 0, vectors = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                                 \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "stepd ai recommend: %s needs a value\n", a);                          \
            return 2;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--catalog")) {
            NEED_VALUE;
            catalog_path = v;
        } else if (!strcmp(a, "--index")) {
            NEED_VALUE;
            index_path = v;
        } else if (!strcmp(a, "--item")) {
            NEED_VALUE;
            item = v;
        } else if (!strcmp(a, "--save")) {
            NEED_VALUE;
            save = v;
        } else if (!strcmp(a, "-k") || !strcmp(a, "--k")) {
            NEED_VALUE;
            if (parse_size(v, &k) || k == 0 || k > 100000) {
                fprintf(stderr, "stepd ai recommend: -k wants a number from 1 to 100000\n");
                return 2;
            }
        } else if (!strcmp(a, "--ngram")) {
            NEED_VALUE;
            if (sscanf(v, "%d,%d", &o.ngram_min, &o.ngram_max) != 2) {
                fprintf(stderr, "stepd ai recommend: --ngram wants MIN,MAX (e.g. 1,2)\n");
                return 2;
            }
        } else if (!strcmp(a, "--stop-words")) {
            NEED_VALUE;
            if (strcmp(v, "english")) {
                fprintf(stderr, "stepd ai recommend: --stop-words supports 'english' only\n");
                return 2;
            }
            o.stop_words = 1;
        } else if (!strcmp(a, "--sublinear-tf")) {
            o.sublinear_tf = 1;
        } else if (!strcmp(a, "--no-idf")) {
            o.use_idf = 0;
        } else if (!strcmp(a, "--no-smooth-idf")) {
            o.smooth_idf = 0;
        } else if (!strcmp(a, "--max-features")) {
            NEED_VALUE;
            if (parse_size(v, &o.max_features) || !o.max_features) {
                fprintf(stderr, "stepd ai recommend: --max-features wants a positive number\n");
                return 2;
            }
        } else if (!strcmp(a, "--norm")) {
            NEED_VALUE;
            if (!strcmp(v, "l2"))
                o.norm = STEPD_RECOMMEND_NORM_L2;
            else if (!strcmp(v, "l1"))
                o.norm = STEPD_RECOMMEND_NORM_L1;
            else if (!strcmp(v, "none"))
                o.norm = STEPD_RECOMMEND_NORM_NONE;
            else {
                fprintf(stderr, "stepd ai recommend: --norm is l2, l1 or none\n");
                return 2;
            }
        } else if (!strcmp(a, "--fields")) {
            NEED_VALUE;
            fields_arg = v;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE;
            o.threads = atoi(v);
        } else if (!strcmp(a, "--bench")) {
            NEED_VALUE;
            if (parse_size(v, &bench) || !bench) {
                fprintf(stderr, "stepd ai recommend: --bench wants a number of queries\n");
                return 2;
            }
        } else if (!strcmp(a, "--all")) {
            all = 1;
        } else if (!strcmp(a, "--vectors")) {
            vectors = 1;
        } else {
            fprintf(stderr, "stepd ai recommend: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
#undef NEED_VALUE
    }
    if (!!catalog_path == !!index_path) {
        fprintf(stderr, "stepd ai recommend: give exactly one of --catalog FILE or --index FILE\n");
        usage(stderr);
        return 2;
    }
    if (!item && !all && !vectors && !save && !bench) {
        fprintf(stderr, "stepd ai recommend: --item ID is required (or --all, --vectors, "
                        "--save, --bench)\n");
        return 2;
    }

    char *fields[65] = {0};
    char *fields_copy = NULL;
    if (fields_arg) {
        fields_copy = strdup(fields_arg);
        size_t nf = 0;
        for (char *tok = strtok(fields_copy, ","); tok && nf < 64; tok = strtok(NULL, ","))
            fields[nf++] = tok;
        o.fields = (const char *const *)fields;
    }

    int status = 1;
    char *err = NULL;
    json_t *catalog = NULL, *ids = NULL;
    stepd_recommend_index *idx = NULL;
    double build_ms = 0;
    if (catalog_path) {
        json_error_t jerr;
        catalog = !strcmp(catalog_path, "-") ? json_loadf(stdin, 0, &jerr)
                                             : json_load_file(catalog_path, 0, &jerr);
        if (!catalog) {
            fprintf(stderr, "stepd ai recommend: %s:%d:%d: %s\n", catalog_path, jerr.line,
                    jerr.column, jerr.text);
            goto out;
        }
        if (!json_is_array(catalog)) {
            fprintf(stderr,
                    "stepd ai recommend: %s: the catalogue must be a JSON array of "
                    "products\n",
                    catalog_path);
            goto out;
        }
        if (stepd_recommend_index_new(&o, &idx, &err))
            goto fail;
        double t0 = now_ms();
        if (stepd_recommend_index_add_products(idx, catalog, &err))
            goto fail;
        build_ms = now_ms() - t0;
        ids = id_map(catalog);
    } else if (stepd_recommend_index_load(index_path, &idx, &err)) {
        goto fail;
    }
    if (save && stepd_recommend_index_save(idx, save, &err))
        goto fail;
    if (bench) {
        status = run_bench(idx, catalog, bench, k, build_ms, o.threads);
        goto out;
    }
    if (vectors) {
        json_t *res = NULL;
        if (item) {
            if (stepd_recommend_index_vector(idx, item, &res, &err))
                goto fail;
        } else {
            res = json_object();
            size_t i;
            json_t *p;
            char id[1024];
            json_array_foreach(catalog, i, p) {
                json_t *vec;
                if (ai_recommend_product_id(p, id, sizeof(id)) ||
                    stepd_recommend_index_vector(idx, id, &vec, &err))
                    continue;
                json_object_set_new(res, id, vec);
            }
        }
        status = print_json(res);
        goto out;
    }
    if (all) {
        size_t n = json_array_size(catalog);
        char(*idbuf)[1024] = calloc(n ? n : 1, sizeof(*idbuf));
        const char **idp = calloc(n ? n : 1, sizeof(*idp));
        stepd_recommend_hits *hits = calloc(n ? n : 1, sizeof(*hits));
        json_t *res = json_object();
        if (!idbuf || !idp || !hits || !res) {
            free(idbuf), free(idp), free(hits), json_decref(res);
            fprintf(stderr, "stepd ai recommend: out of memory\n");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (!ai_recommend_product_id(json_array_get(catalog, i), idbuf[i], sizeof(idbuf[i])))
                idp[i] = idbuf[i];
        int rc = stepd_recommend_index_similar_batch(idx, idp, n, k, hits, &err);
        for (size_t i = 0; i < n; i++) {
            if (!rc && idp[i])
                json_object_set_new(res, idp[i], hits_out(&hits[i], ids));
            stepd_recommend_hits_free(&hits[i]);
        }
        free(idbuf), free(idp), free(hits);
        if (rc) {
            json_decref(res);
            goto fail;
        }
        status = print_json(res);
        goto out;
    }
    if (item) {
        stepd_recommend_hits h;
        if (stepd_recommend_index_similar(idx, item, k, &h, &err))
            goto fail;
        json_t *res = hits_out(&h, ids);
        stepd_recommend_hits_free(&h);
        status = print_json(res);
        goto out;
    }
    status = 0; /* --save only */
    goto out;
fail:
    fprintf(stderr, "stepd ai recommend: %s\n",
            err ? err + (strncmp(err, "recommend: ", 11) ? 0 : 11) : "out of memory");
    status = 1;
out:
    free(err);
    free(fields_copy);
    stepd_recommend_index_free(idx);
    json_decref(catalog);
    json_decref(ids);
    return status;
}
