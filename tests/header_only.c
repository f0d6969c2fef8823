/* The public header must compile alone, as strict C11 and as C++. */
#include "automodel.h"
int am_header_only_check(void) { return (int)sizeof(am_load_options) + AM_OK; }
