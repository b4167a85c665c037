/*
 * nn_tensor.c — tensor storage: element types, shapes, owned 64-byte aligned buffers that
 * grow but never shrink (so a reused tensor stops allocating once it has seen its largest
 * shape), and the engine's error helper.
 */
#include "nn/nn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>
#include <string.h>
#include <sys/mman.h>

/* Big buffers come straight from mmap and go back to the system when freed: through malloc,
 * glibc's adaptive mmap threshold would soon serve them from the heap, where freed weights
 * and activations stay resident. */
#define NN_MMAP_MIN ((size_t)256 << 10)

void *nn_mem_alloc(size_t cap) {
    if (cap >= NN_MMAP_MIN) {
        void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    return aligned_alloc(64, cap);
}

void nn_mem_free(void *p, size_t cap) {
    if (!p)
        return;
    if (cap >= NN_MMAP_MIN)
        munmap(p, cap);
    else
        free(p);
}

size_t nn_dtype_size(nn_dtype t) {
    switch (t) {
    case NN_F32:
    case NN_I32:
        return 4;
    case NN_I64:
        return 8;
    case NN_U8:
    case NN_I8:
    case NN_BOOL:
        return 1;
    case NN_F16:
        return 2;
    default:
        return 0;
    }
}

const char *nn_dtype_name(nn_dtype t) {
    switch (t) {
    case NN_F32:
        return "float32";
    case NN_U8:
        return "uint8";
    case NN_I8:
        return "int8";
    case NN_I32:
        return "int32";
    case NN_I64:
        return "int64";
    case NN_BOOL:
        return "bool";
    case NN_F16:
        return "float16";
    default:
        return "?";
    }
}

int64_t nn_numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(n, dims[i], &n))
            return INT64_MAX; /* saturates: every size limit rejects it */
    return n;
}

#define NN_MAX_ELEMS ((int64_t)1 << 31)

int nn_tensor_alloc(nn_tensor *t, nn_dtype dtype, int ndim, const int64_t *dims) {
    if (ndim < 0 || ndim > NN_MAXDIM || !nn_dtype_size(dtype))
        return STEP_EINVAL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] && n > NN_MAX_ELEMS / dims[i]))
            return STEP_EINVAL;
        n *= dims[i];
    }
    if (n > NN_MAX_ELEMS)
        return STEP_EINVAL;
    size_t bytes = (size_t)n * nn_dtype_size(dtype);
    if (bytes > t->cap || !t->data) {
        size_t cap = (bytes + 63) & ~(size_t)63;
        if (cap == 0)
            cap = 64;
        void *p = nn_mem_alloc(cap);
        if (!p)
            return STEP_ENOMEM;
        if (t->cap)
            nn_mem_free(t->data, t->cap);
        t->data = p;
        t->cap = cap;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    return 0;
}

void nn_tensor_free(nn_tensor *t) {
    if (!t)
        return;
    if (t->cap)
        nn_mem_free(t->data, t->cap);
    memset(t, 0, sizeof *t);
}

int nn_tensor_copy(nn_tensor *dst, const nn_tensor *src) {
    int rc = nn_tensor_alloc(dst, src->dtype, src->ndim, src->dims);
    if (rc < 0)
        return rc;
    size_t bytes = (size_t)nn_tensor_numel(src) * nn_dtype_size(src->dtype);
    if (bytes)
        memmove(dst->data, src->data, bytes);
    return 0;
}

const char *nn_shape_str(int ndim, const int64_t *dims, char *buf, size_t size) {
    size_t o = 0;
    o += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, i ? ", %lld" : "%lld", (long long)dims[i]);
    if (o < size)
        snprintf(buf + o, size - o, "]");
    return buf;
}

int nn_fail(char **err, int code, const char *fmt, ...) {
    if (err && !*err) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(err, fmt, ap) < 0)
            *err = NULL;
        va_end(ap);
    }
    return code;
}
