#ifndef CRONQ_MEMORY_H
#define CRONQ_MEMORY_H
/* Returns memory that malloc keeps in its free lists to the OS (glibc malloc_trim). The ticker calls
   it after loading a large configuration: the TOML parser's peak would otherwise stay resident. */
void cronq_release_free_memory(void);
#include <stddef.h>
/* Bytes malloc has handed out and not yet had back (glibc mallinfo2), 0 elsewhere: tells live data from
   fragmentation in the memory benchmark. */
size_t cronq_heap_in_use(void);
#endif
