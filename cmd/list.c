/* list.c: placeholder until written. */
