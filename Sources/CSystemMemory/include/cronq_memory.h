#ifndef CRONQ_MEMORY_H
#define CRONQ_MEMORY_H
/* Returns memory that malloc keeps in its free lists to the OS (glibc malloc_trim). The ticker calls
   it after loading a large configuration: the TOML parser's peak would otherwise stay resident. */
void cronq_release_free_memory(void);
#endif
