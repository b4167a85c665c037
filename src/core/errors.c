/* errors.c — step_strerror() and step_err_name(), generated from STEP_ERRNO_MAP. */
#include <stepd/step.h>

const char *step_strerror(int err) {
    switch (err) {
    case 0:
        return "ok";
#define STEP_ERRNO_TEXT(name, value, text)                                                         \
    case value:                                                                                    \
        return text;
        STEP_ERRNO_MAP(STEP_ERRNO_TEXT)
#undef STEP_ERRNO_TEXT
    }
    return "unknown error";
}

const char *step_err_name(int err) {
    switch (err) {
    case 0:
        return "0";
#define STEP_ERRNO_NAME(name, value, text)                                                         \
    case value:                                                                                    \
        return "STEP_E" #name;
        STEP_ERRNO_MAP(STEP_ERRNO_NAME)
#undef STEP_ERRNO_NAME
    }
    return "STEP_EUNKNOWN";
}
