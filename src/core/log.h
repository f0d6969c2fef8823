/* core/log.h — levelled logging to a user callback or stderr. */
#ifndef AM_CORE_LOG_H
#define AM_CORE_LOG_H
#include "automodel.h"
void am__log(am_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
bool am__log_enabled(am_log_level level);
#endif
