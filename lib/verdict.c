/* verdict.c: placeholder until written. */
