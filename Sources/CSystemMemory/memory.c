#include <stdlib.h> /* defines __GLIBC__ on glibc, which the checks below need */
#include "cronq_memory.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void cronq_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

size_t cronq_heap_in_use(void) {
#if defined(__GLIBC__)
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    return 0;
#endif
}
