/* jsonptr.c: placeholder until written. */
