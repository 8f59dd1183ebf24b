/* not_contains.c: placeholder until written. */
