/* test_ynode.c: placeholder. */
int main(void) { return 0; }
