/* template.c: placeholder until written. */
