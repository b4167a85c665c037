/*
 * text_internal.h — shared internals of the text module (src/ai/text*.c). Not public.
 *
 * The module is split by concern: text_util.c (hash map, buffers, UTF-8), text_token.c
 * (Pattern-compatible tokenizer and sentence splitter), text_sentiment.c (Pattern's sentiment
 * lexicon and scoring), text_pickle.c (reader for Pattern's pickled perceptron), text_tagger.c
 * (POS tagger: lexicon + perceptron + named-entity list), text_readability.c, text_lang.c
 * (n-gram language id over libexttextcat-data's fingerprints), text_extract.c (noun phrases, key
 * phrases, entities, summary) and text.c (loading, the public API, the JSON analysis).
 */
#ifndef STEPD_TEXT_INTERNAL_H
#define STEPD_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <stepd/ai/text.h>

/* ---- growable byte buffer ----------------------------------------------------------------- */
typedef struct tbuf {
    char *p;
    size_t len, cap;
    int oom;   /* sticky: an allocation failed, contents are truncated */
    int fixed; /* p is the caller's storage (a stack array): growing moves it to the heap */
} tbuf;

/* A tbuf over caller storage of cap bytes; tbuf_free() then frees only what it allocated. */
#define TBUF_ON(array) ((tbuf){(array), 0, sizeof(array), 0, 1})

int tbuf_grow(tbuf *b, size_t need); /* 0, or -1 (and b->oom set) */
static inline void tbuf_put(tbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap && tbuf_grow(b, b->len + n + 1))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static inline void tbuf_putc(tbuf *b, char c) {
    if (b->len + 2 > b->cap && tbuf_grow(b, b->len + 2))
        return;
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}
void tbuf_puts(tbuf *b, const char *s);
void tbuf_free(tbuf *b);

/* ---- string -> value hash map (keys copied into the map, values are opaque) --------------- */
typedef struct tmap_entry {
    char *key;
    uint32_t hash;
    uint32_t klen;
    void *val;
} tmap_entry;

typedef struct tmap {
    tmap_entry *slots;
    size_t cap, count;
    char **blocks; /* key storage */
    size_t nblocks, block_used, block_cap;
} tmap;

uint32_t tmap_hash(const char *s, size_t n);
/* Returns the entry for key (inserting it with val NULL when absent) or NULL when out of memory. */
tmap_entry *tmap_put(tmap *m, const char *key, size_t klen);
/* Grows m to at most 1/4 full: a lookup of an absent key then probes ~1.4 slots instead of up
 * to ~8 (for small maps looked up mostly with absent keys). 0 or -1 (out of memory). */
int tmap_reserve_sparse(tmap *m);
/* Returns the entry for key or NULL. */
const tmap_entry *tmap_get(const tmap *m, const char *key, size_t klen);
/* The same with h = tmap_hash(key, klen) computed by the caller, who may have called
 * tmap_prefetch(m, h) a while before: lookups that miss the cache then overlap. */
const tmap_entry *tmap_get_hashed(const tmap *m, const char *key, size_t klen, uint32_t h);
static inline void tmap_prefetch(const tmap *m, uint32_t h) {
    if (m->cap)
        __builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}
void tmap_free(tmap *m);

/* ---- UTF-8 ---------------------------------------------------------------------------------- */
/* Decodes one code point at s (n bytes left); stores its length in *len. Invalid -> -1, len 1. */
int32_t utf8_decode(const unsigned char *s, size_t n, int *len);
int utf8_encode(uint32_t cp, char *out);
/* Copies s with invalid sequences and NULs replaced by U+FFFD; caller frees. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);
size_t utf8_count(const char *s, size_t n); /* code points */
int utf8_valid(const char *s, size_t n);    /* valid UTF-8 without NULs */
/* Python str.isspace() for one code point. */
int py_isspace(uint32_t cp);
/* Python-compatible lower-casing (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic). */
void utf8_lower(tbuf *out, const char *s, size_t n);
int py_isalpha_cp(uint32_t cp);

/* ---- tokens ---------------------------------------------------------------------------------- */
/* Sentences of tokens, each token a NUL-terminated string in buf, stored back to back in
 * order (token i + 1 starts right after token i's NUL; the sentiment scorer relies on it). Sentence
 * i holds tokens sent[i] .. sent[i+1]-1 (sent has nsent+1 entries). */
typedef struct text_toks {
    tbuf buf;
    size_t *tok;
    size_t ntok, captok;
    size_t *sent;
    size_t nsent, capsent;
    int oom;
} text_toks;

static inline const char *toks_at(const text_toks *t, size_t i) {
    return t->buf.p + t->tok[i];
}
/* Pattern's find_tokens(): fills t (zeroed by the caller). Returns 0 or STEP_ENOMEM. */
int text_tokenize(const char *s, size_t n, text_toks *t);
void text_toks_free(text_toks *t);

/* ---- sentiment ------------------------------------------------------------------------------ */
typedef struct text_sentiment text_sentiment;
int text_sentiment_load(const char *path, text_sentiment **out, char **err);
void text_sentiment_free(text_sentiment *s);
/* Pattern's Sentiment()(string) over already-tokenized text. */
int text_sentiment_score(const text_sentiment *s, const text_toks *t, double *polarity,
                         double *subjectivity, size_t *nassess);

/* ---- tagger -----------------------------------------------------------------------------------
 */
typedef struct text_tagger text_tagger;
int text_tagger_load(const char *dir, text_tagger **out, char **err);
void text_tagger_free(text_tagger *tg);
/* Tags tokens [first, first+n) of t: tags[i] receives a borrowed string (valid while the
 * tagger lives). Returns 0 or STEP_ENOMEM. */
int text_tagger_tag(const text_tagger *tg, const text_toks *t, size_t first, size_t n,
                    const char **tags);

/* ---- pickle (Pattern's en-model.slp: a gzipped pickle of an averaged perceptron) ----------- */
typedef struct slp_model slp_model;
int slp_load(const char *path, slp_model **out, char **err);
void slp_free(slp_model *m);
/* Features in Pattern's order; returns the class (borrowed). */
const char *slp_classify(const slp_model *m, const char *const *features, size_t nfeat);
int slp_is_unknown(const slp_model *m, const char *word);

/* ---- readability, language ------------------------------------------------------------------ */
int text_syllables(const char *word, size_t n);
typedef struct text_lang text_lang;
int text_lang_load(const char *dir, text_lang **out, char **err);
void text_lang_free(text_lang *l);
/* code: ISO 639 code or "und"; confidence 0..1. */
void text_lang_identify(const text_lang *l, const char *s, size_t n, char code[16],
                        double *confidence);

/* ---- one analysed document (text.c builds it, text_extract.c / text_entities.c read it) ---- */
typedef struct text_doc {
    const char *src; /* sanitised UTF-8 input */
    size_t srclen;
    text_toks toks;
    const char **tags;  /* POS tag per token, or NULL when not tagged */
    size_t *tok_start;  /* byte offset of each token in src, SIZE_MAX when not found */
    size_t *sent_start; /* byte offset of each sentence's first token */
    size_t *sent_end;   /* byte offset just past each sentence's last token */
} text_doc;

/* Noun phrases (chunker over the POS tags) as [{text, count}], and key phrases ranked by
 * TextRank over them, top `top` as [{text, score, count}]. New references. */
int text_phrases(const text_doc *d, int top, json_t **noun_phrases, json_t **key_phrases);
/* Extractive summary: TextRank over sentences, at most nsent sentences / maxchars bytes, in
 * document order. *summary is a new string reference, *indices an array of sentence indexes. */
int text_summary(const text_doc *d, int nsent, size_t maxchars, json_t **summary, json_t **indices);

typedef struct text_gazetteer text_gazetteer;
int text_gazetteer_load(const char *iso_dir, const char *zoneinfo_dir, text_gazetteer **out);
void text_gazetteer_free(text_gazetteer *g);
/* Entities with byte offsets into d->src: [{text, type, start, end}], new reference. */
int text_entities(const text_gazetteer *g, const text_doc *d, json_t **out);

/* ---- errors --------------------------------------------------------------------------------- */
char *text_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *text_read_file(const char *path, size_t *len);

#endif
