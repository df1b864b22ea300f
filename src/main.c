/* main.c — placeholder command line until the machine lands. */
#include <stdio.h>

int main(void)
{
    puts("vessel 0.1.0");
    return 0;
}
