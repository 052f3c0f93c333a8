/* The guest kernel's workloads, chosen by app= on its command line; http is the default. */
#include "../kernel/kernel.h"

const struct app *const apps[] = {&app_http, &app_echo,   &app_compute, &app_sink,
                                  &app_source, &app_clock, &app_dirty, NULL};
const char app_names[] = "http, echo, compute, sink, source, clock, dirty";
