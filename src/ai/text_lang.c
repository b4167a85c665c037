/*
 * text_lang.c — language identification with libexttextcat (Debian: libexttextcat-2.0 and its
 * fingerprints in libexttextcat-data). exttextcat ranks character n-gram profiles (Cavnar &
 * Trenkle); it returns every language whose distance is within 3% of the best. We report the
 * best one's ISO 639 code, and a confidence from how many languages tied and how much text
 * there was: a short text or a near-tie gives a low confidence, a text under 3 letters gives
 * "und". The classifier handle keeps scratch state, so calls are serialised by a mutex; only
 * the first 4 KiB of a text are classified (more does not change the answer, only the time).
 */
#include "ai/text_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <textcat.h>
#include <unistd.h>

#include <stepd/step.h>

#define LANG_SAMPLE 4096

struct text_lang {
    void *tc;   /* the ~40 widely used languages: fewer near-ties on short texts */
    void *full; /* every fingerprint Debian ships, when the first is unsure */
    pthread_mutex_t mu;
};

static const char *const MAJOR[] = {"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb",
                                    "fi", "pl", "cs", "sk", "hu", "ro", "tr", "ru", "uk", "el",
                                    "ar", "he", "hi", "ja", "zh", "ko", "id", "ca", "et", "lv",
                                    "lt", "sl", "hr", "bg", "eu", "ga", "is", "vi"};

static int is_major(const char *name) {
    size_t n = strcspn(name, "-");
    for (size_t i = 0; i < sizeof(MAJOR) / sizeof(MAJOR[0]); i++)
        if (strlen(MAJOR[i]) == n && !strncmp(MAJOR[i], name, n))
            return 1;
    return 0;
}

/* A textcat handle over the fpdb.conf entries whose language is_major(): exttextcat only
 * reads configuration from a file, so a filtered copy is written to a temporary file. */
static void *load_major(const char *conf, const char *prefix) {
    FILE *in = fopen(conf, "r");
    if (!in)
        return NULL;
    char tmpl[] = "/tmp/stepd-textcat-XXXXXX";
    int fd = mkstemp(tmpl);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        if (fd >= 0)
            close(fd);
        fclose(in);
        return NULL;
    }
    /* in MAJOR's order (English first): exttextcat stops comparing a language once it is
     * clearly worse than the best so far, so likely languages first is faster */
    char line[1024];
    char files[64][256], names[64][256];
    int nl = 0;
    while (fgets(line, sizeof(line), in) && nl < 64) {
        if (line[0] == '#' || sscanf(line, "%255s %255s", files[nl], names[nl]) != 2)
            continue;
        if (is_major(names[nl]))
            nl++;
    }
    for (size_t m = 0; m < sizeof(MAJOR) / sizeof(MAJOR[0]); m++)
        for (int k = 0; k < nl; k++) {
            size_t cl = strcspn(names[k], "-");
            if (strlen(MAJOR[m]) == cl && !strncmp(MAJOR[m], names[k], cl))
                fprintf(out, "%s %s\n", files[k], names[k]);
        }
    fclose(in);
    fclose(out);
    void *h = special_textcat_Init(tmpl, prefix);
    unlink(tmpl);
    return h;
}

int text_lang_load(const char *dir, text_lang **out, char **err) {
    char conf[4096], prefix[4096];
    snprintf(conf, sizeof(conf), "%s/fpdb.conf", dir);
    snprintf(prefix, sizeof(prefix), "%s/", dir);
    text_lang *l = calloc(1, sizeof(*l));
    if (!l)
        return STEP_ENOMEM;
    l->full = special_textcat_Init(conf, prefix);
    l->tc = l->full ? load_major(conf, prefix) : NULL;
    if (!l->tc)
        l->tc = l->full, l->full = NULL;
    if (!l->tc) {
        *err = text_errf("cannot load language fingerprints from %s (set STEPD_TEXTCAT_DIR; "
                         "Debian package libexttextcat-data)",
                         conf);
        free(l);
        return STEP_ENOTFOUND;
    }
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return 0;
}

void text_lang_free(text_lang *l) {
    if (!l)
        return;
    textcat_Done(l->tc);
    if (l->full)
        textcat_Done(l->full);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void text_lang_identify(const text_lang *cl, const char *s, size_t n, char code[16],
                        double *confidence) {
    text_lang *l = (text_lang *)cl;
    strcpy(code, "und");
    *confidence = 0.0;
    size_t letters = 0;
    for (size_t i = 0; i < n && i < LANG_SAMPLE; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c | 32) >= 'a' && (c | 32) <= 'z')
            letters++;
        else if (c >= 0xC0)
            letters++;
    }
    if (!l || letters < 3)
        return;
    size_t len = n < LANG_SAMPLE ? n : LANG_SAMPLE;
    while (len < n && len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--; /* do not cut a character in half */
    pthread_mutex_lock(&l->mu);
    void *h = l->tc;
    candidate_t *cand = textcat_GetClassifyFullOutput(h);
    int k = cand ? textcat_ClassifyFull(h, s, len, cand) : 0;
    if (k <= 0 && l->full && cand) {
        textcat_ReleaseClassifyFullOutput(h, cand);
        h = l->full;
        cand = textcat_GetClassifyFullOutput(h);
        k = cand ? textcat_ClassifyFull(h, s, len, cand) : 0;
    }
    char best[64] = "";
    /* Candidates are within 3% of each other: prefer a widely used language over a close
     * regional one ("ru" over "rue", "en" over "sco"), as short texts often tie. */
    for (int c = 0; c < k && !best[0]; c++)
        if (cand[c].name && is_major(cand[c].name))
            snprintf(best, sizeof(best), "%s", cand[c].name);
    if (k > 0 && !best[0] && cand[0].name)
        snprintf(best, sizeof(best), "%s", cand[0].name);
    if (cand)
        textcat_ReleaseClassifyFullOutput(h, cand);
    pthread_mutex_unlock(&l->mu);
    if (k <= 0 || !best[0])
        return;
    /* names are "en--utf8", "zh-CN-utf8", "az-cyrillic-utf8": the code is the first part */
    size_t cl_ = strcspn(best, "-");
    if (cl_ == 0 || cl_ >= 16)
        return;
    memcpy(code, best, cl_);
    code[cl_] = 0;
    double len_factor = letters >= 60 ? 1.0 : 0.4 + 0.6 * (double)letters / 60.0;
    *confidence = len_factor / (double)k;
}
