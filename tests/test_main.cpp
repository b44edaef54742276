// Catch2 main (the only translation unit that defines it).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
