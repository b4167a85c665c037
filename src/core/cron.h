/*
 * cron.h — standard 5-field cron expressions (minute hour day-of-month month day-of-week):
 * '*', lists "1,15", ranges "1-5", steps "*\/10" and "8-18/2", month and weekday names
 * (jan..dec, sun..sat; 0 and 7 are Sunday), and @yearly @annually @monthly @weekly @daily
 * @midnight @hourly. As in Vixie cron, when both day fields are restricted a day matches if
 * either does. Times are local (TZ). A sixth, leading field for seconds is accepted too
 * ("*\/10 * * * * *": every 10 seconds), as node-cron and Motia allow.
 */
#ifndef STEPD_CORE_CRON_H
#define STEPD_CORE_CRON_H

#include <stdint.h>
#include <time.h>

typedef struct cron_expr {
    uint64_t second; /* bit i set = second i allowed (bit 0 only for 5-field expressions) */
    uint64_t minute; /* bit i set = minute i allowed */
    uint32_t hour;
    uint32_t dom;    /* bits 1..31 */
    uint16_t month;  /* bits 1..12 */
    uint8_t dow;     /* bits 0..6, Sunday = 0 */
    uint8_t dom_star, dow_star;
} cron_expr;

/* Returns 0, or STEP_EINVAL with a static reason in *err naming the bad field. */
int cron_parse(const char *text, cron_expr *out, const char **err);
/* The first matching time strictly after `after`; (time_t)-1 if none within 5 years. */
time_t cron_next(const cron_expr *e, time_t after);

#endif
