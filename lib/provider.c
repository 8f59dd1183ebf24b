/* provider.c: placeholder until written. */
