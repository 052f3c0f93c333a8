/* The loader build's one workload. */
#include "loader.h"

const struct app *const apps[] = {&app_loader, NULL};
const char app_names[] = "loader";
