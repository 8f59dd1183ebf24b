/* contains.c: placeholder until written. */
